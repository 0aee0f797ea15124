import { api } from '../api.js';
import { h, time } from '../dom.js';

// "Is every event in AEP?" (issue 17, docs/accounting.md): per route, one row per judged window,
// Capillary -> relay -> Adobe, findings marked; a click to the window's events and to each event a
// finding names.

const num = (n) => (n === null || n === undefined ? '—' : n.toLocaleString());
/** A datetime-local value (the events page's filter form) for an instant. */
const local = (ms) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};
const span = (w) => (w.to - w.from >= 86_400_000 ? new Date(w.from).toISOString().slice(0, 10) : `${new Date(w.from).toISOString().slice(0, 13).replace('T', ' ')}h`);

function capillaryCell(c) {
  if (c === null) return h('td', { class: 'muted' }, 'not read');
  if (c.status !== 'ok') return h('td', { class: 'error' }, `unavailable: ${c.error ?? ''}`);
  return h('td', {}, `${num(c.total)} sent: ${num(c.delivered)} delivered, `, h('span', { class: c.failed ? 'error' : '' }, `${num(c.failed)} failed`), `, ${num(c.retrying)} retrying, ${num(c.pending)} pending`);
}

function relayCell(r, events) {
  return h(
    'td',
    {},
    h('a', { href: events }, `${num(r.accepted)} accepted`),
    r.held || r.unmapped ? ` (${num(r.held)} held, ${num(r.unmapped)} unmapped)` : '',
    r.datasets.map((d) => h('div', { class: 'muted' }, `${d.kind}: ${num(d.delivered)} acknowledged${d.rejectedAfterAcceptance ? `, ${num(d.rejectedAfterAcceptance)} rejected after` : ''}${d.dead ? `, ${num(d.dead)} dead` : ''}`)),
  );
}

function adobeCell(a) {
  if (a === null) return h('td', { class: 'muted' }, 'not read');
  if (a.status === 'waiting') return h('td', { class: 'muted' }, 'waiting for Adobe until ', time(a.judgedFrom));
  if (a.status !== 'ok') return h('td', { class: 'error' }, `unavailable: ${a.error ?? ''}`);
  return h(
    'td',
    {},
    a.datasets.map((d) => h('div', {}, `${d.kind}: ${num(d.landed)} landed`, d.failedRecords ? h('span', { class: 'error' }, `, ${num(d.failedRecords)} failed`) : '')),
  );
}

function findingsCell(findings) {
  if (findings.length === 0) return h('td', { class: 'state-delivered' }, 'none');
  return h(
    'td',
    {},
    findings.map((f) =>
      h(
        'details',
        { class: 'finding' },
        h('summary', {}, h('span', { class: 'state state-dead' }, f.kind), ` ${num(f.count)}`),
        h('p', {}, f.detail),
        f.events?.length
          ? h(
              'ul',
              {},
              f.events.map((e) =>
                h('li', {}, e.eventId && (f.kind !== 'capillary_gave_up' || e.storedByRelay) ? h('a', { href: `#/events/${encodeURIComponent(e.eventId)}` }, e.eventId) : e.eventId ?? 'unknown event', e.requestId ? ` (request ${e.requestId})` : '', e.error ? ` — ${e.error}` : ''),
              ),
            )
          : '',
      ),
    ),
  );
}

export async function accountingPage() {
  const report = await api('/admin/accounting');
  const status = h('p', { role: 'status', class: 'notice' });
  const run = h('button', { type: 'button', class: 'primary' }, 'Run now');
  run.addEventListener('click', async () => {
    run.disabled = true;
    status.textContent = 'Running accounting…';
    try {
      const result = await api('/admin/accounting/run', { method: 'POST' });
      status.textContent = `Judged ${result.routes.reduce((n, r) => n + r.windows.length, 0)} window(s).`;
      window.dispatchEvent(new Event('console:refresh'));
    } catch (err) {
      status.textContent = `Run failed: ${err.message}`;
      run.disabled = false;
    }
  });
  const routes = report.routes.map((route) => {
    const absent = Object.entries(route.absent).map(([source, why]) => h('li', {}, `${source === 'capillary' ? 'Capillary' : 'Adobe'} not read: ${why}`));
    const rows = [...route.windows].reverse().map((w) => {
      const events = `#/events?${new URLSearchParams({ route: route.route, from: local(w.from), to: local(w.to) })}`;
      return h('tr', { class: w.findings.length ? 'has-findings' : '' }, h('th', { scope: 'row' }, span(w)), capillaryCell(w.capillary), relayCell(w.relay, events), adobeCell(w.adobe), findingsCell(w.findings));
    });
    return [
      h('h2', {}, `Route ${route.route}`),
      absent.length ? h('ul', { class: 'muted' }, absent) : '',
      rows.length === 0
        ? h('p', { class: 'muted' }, 'No window judged yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              {},
              h('caption', { class: 'muted' }, 'Newest first; times in UTC'),
              h('thead', {}, h('tr', {}, ['Window', 'Capillary sent', 'Relay', 'Adobe', 'Findings'].map((t) => h('th', { scope: 'col' }, t)))),
              h('tbody', {}, rows),
            ),
          ),
    ];
  });
  // The router appends these as the page's children: one flat list of nodes.
  return [h('h1', {}, 'Accounting: is every event in AEP?'), h('p', {}, run), status, ...(routes.length ? routes.flat().filter((n) => n !== '') : [h('p', { class: 'muted' }, 'No routes.')])];
}
