import { api } from '../api.js';
import { fromLocal, h, stateBadge, time } from '../dom.js';

const STATES = ['', 'pending', 'delivered', 'dead', 'unmapped', 'no_output'];

export async function eventsPage(params) {
  const q = params.get('q') ?? '';
  const name = params.get('name') ?? '';
  const state = params.get('state') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const before = params.get('before') ?? '';
  // From the accounting page: a window's events of one route.
  const route = params.get('route') ?? '';
  const page = await api('/admin/events', { query: { q, name, state, route, from: fromLocal(from), to: fromLocal(to), before, limit: 50 } });

  const field = (label, input) => h('label', {}, label, input);
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    field('Event id or customer id', h('input', { name: 'q', type: 'search', value: q, autocomplete: 'off' })),
    field('Event name', h('input', { name: 'name', value: name, autocomplete: 'off' })),
    field('State', h('select', { name: 'state' }, STATES.map((s) => h('option', { value: s, selected: s === state }, s || 'any')))),
    field('Received from', h('input', { name: 'from', type: 'datetime-local', value: from })),
    field('Received before', h('input', { name: 'to', type: 'datetime-local', value: to })),
    route ? h('input', { type: 'hidden', name: 'route', value: route }) : '',
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, String(v).trim());
    location.hash = `#/events?${next}`;
  });

  const rows = page.items.map((e) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/events/${encodeURIComponent(e.eventId)}` }, e.eventId)),
      h('td', {}, e.eventName),
      h('td', { class: 'optional' }, e.customerId ?? '—'),
      h('td', { class: 'optional' }, time(e.receivedAt)),
      h('td', {}, stateBadge(e.state)),
    ),
  );
  const more = new URLSearchParams(params);
  if (page.next) more.set('before', page.next);
  return [
    h('h1', {}, route ? `Events of route ${route}` : 'Events'),
    form,
    page.items.length === 0
      ? h('p', { role: 'status' }, 'No events match.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h('caption', { class: 'muted' }, `${page.items.length} events, newest first`),
            h('thead', {}, h('tr', {}, ['Event id', 'Name'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col', class: 'optional' }, 'Customer'), h('th', { scope: 'col', class: 'optional' }, 'Received'), h('th', { scope: 'col' }, 'State'))),
            h('tbody', {}, rows),
          ),
        ),
    page.next ? h('p', {}, h('a', { href: `#/events?${more}` }, 'Older events →')) : '',
  ];
}
