import { api } from '../api.js';
import { fromLocal, h, time } from '../dom.js';

async function waitForJob(jobId, status) {
  for (;;) {
    const job = await api(`/admin/jobs/${encodeURIComponent(jobId)}`);
    status.textContent = `Replay ${job.state}: ${job.done} of ${job.total ?? '?'} examined`;
    if (job.state !== 'running') return job;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function deadLettersPage(params) {
  const reason = params.get('reason') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const filter = { reason: reason || undefined, from: fromLocal(from), to: fromLocal(to) };
  const [{ groups }, page] = await Promise.all([
    api('/admin/dead-letters/groups', { query: { from: filter.from, to: filter.to } }),
    api('/admin/dead-letters/search', { query: { ...filter, limit: 100 } }),
  ]);
  const shownCount = groups.filter((g) => !reason || g.reason === reason).reduce((n, g) => n + g.count, 0);
  const status = h('p', { role: 'status', class: 'notice' });

  const field = (label, input) => h('label', {}, label, input);
  const form = h(
    'form',
    { class: 'filters' },
    field('Reason', h('select', { name: 'reason' }, h('option', { value: '' }, 'any'), groups.map((g) => h('option', { value: g.reason, selected: g.reason === reason }, g.reason)))),
    field('Dead from', h('input', { name: 'from', type: 'datetime-local', value: from })),
    field('Dead before', h('input', { name: 'to', type: 'datetime-local', value: to })),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, String(v));
    location.hash = `#/dead-letters?${next}`;
  });

  const replayOne = (id) => {
    const button = h('button', { type: 'button', 'aria-label': `Replay dead letter ${id}` }, 'Replay');
    button.addEventListener('click', async () => {
      button.disabled = true;
      const { requeued } = await api('/admin/dead-letters/replay', { method: 'POST', body: { ids: [id] } });
      status.textContent = requeued > 0 ? `Dead letter ${id} re-queued.` : `Dead letter ${id} was not re-queued (already replayed or superseded).`;
      button.closest('tr')?.remove();
    });
    return button;
  };

  const replayAll = h('button', { type: 'button', disabled: shownCount === 0 }, 'Replay all shown');
  replayAll.addEventListener('click', async () => {
    if (!window.confirm(`Replay ${shownCount} dead letter${shownCount === 1 ? '' : 's'}${reason ? ` (reason ${reason})` : ''}?`)) return;
    replayAll.disabled = true;
    const job = await api('/admin/dead-letters/replay-jobs', { method: 'POST', body: filter });
    const done = await waitForJob(job.jobId, status);
    status.textContent = done.state === 'done' ? `Re-queued ${done.result.requeued} of ${done.result.examined} dead letters.` : `Replay ${done.state}: ${done.error ?? ''}`;
  });

  const groupRows = groups.map((g) =>
    h('tr', {}, h('td', {}, h('a', { href: `#/dead-letters?reason=${encodeURIComponent(g.reason)}` }, g.reason)), h('td', {}, String(g.count)), h('td', { class: 'optional' }, time(g.newestAt))),
  );
  const rows = page.items.map((d) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/events/${encodeURIComponent(d.eventId)}` }, d.eventId)),
      h('td', {}, d.reason),
      h('td', { class: 'optional' }, d.error ?? ''),
      h('td', { class: 'optional' }, time(d.deadAt)),
      h('td', {}, replayOne(d.id)),
    ),
  );
  return [
    h('h1', {}, 'Dead letters'),
    h('h2', {}, 'By reason'),
    groups.length === 0
      ? h('p', { class: 'muted' }, 'No dead letters.')
      : h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col' }, 'Count'), h('th', { scope: 'col', class: 'optional' }, 'Newest'))), h('tbody', {}, groupRows))),
    h('h2', {}, reason ? `Reason: ${reason}` : 'All reasons'),
    form,
    h('p', {}, replayAll, ' ', h('span', { class: 'muted' }, `${shownCount} dead letter(s) match this filter.`)),
    status,
    rows.length === 0
      ? h('p', { class: 'muted' }, 'Nothing here.')
      : h(
          'div',
          { class: 'table-wrap' },
          h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col', class: 'optional' }, "Adobe's message"), h('th', { scope: 'col', class: 'optional' }, 'Dead at'), h('th', { scope: 'col' }, 'Action'))), h('tbody', {}, rows)),
        ),
  ];
}
