import { api } from '../api.js';
import { h } from '../dom.js';

// "Setup" (issue 16): GET /admin/setup-check, the same checks as `npm run check-setup`, per route.
const badge = (status) => h('span', { class: `state check-${status}` }, status);

function routeTable(route) {
  const rows = route.checks.map((c) =>
    h('tr', {}, h('th', { scope: 'row' }, c.name), h('td', {}, badge(c.status)), h('td', {}, c.detail), h('td', { class: 'optional' }, c.status === 'fail' || c.status === 'warn' ? c.fix : '')),
  );
  const failed = route.checks.filter((c) => c.status === 'fail').length;
  return [
    h('h2', { id: `route-${route.route}` }, `Route ${route.route}`, ' ', h('span', { class: failed ? 'error' : 'muted' }, failed ? `${failed} failing` : 'nothing failing')),
    h(
      'div',
      { class: 'table-wrap' },
      h('table', { 'aria-labelledby': `route-${route.route}` }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Check'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Detail'), h('th', { scope: 'col', class: 'optional' }, 'Fix'))), h('tbody', {}, rows)),
    ),
  ];
}

export async function setupPage() {
  const report = await api('/admin/setup-check');
  const status = h('p', { role: 'status', class: 'notice' });
  const refresh = h('button', { type: 'button' }, 'Read schemas again');
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    const { routes } = await api('/admin/schemas/refresh', { method: 'POST' });
    const sources = routes.flatMap((r) => r.schemas.map((s) => `${r.route} ${s.kind}: ${s.source === 'customer' ? "customer's schema" : `standard schema (${s.lastError ?? 'not read'})`}`));
    status.textContent = sources.length > 0 ? `Schemas read: ${sources.join('; ')}.` : 'No route checks schemas.';
    refresh.disabled = false;
  });
  return [
    h('h1', {}, 'Setup'),
    h('p', { class: 'muted' }, "Each route's AEP sandbox, read with the route's own credential: can what the relay sends land? The same checks as npm run check-setup."),
    h('p', {}, refresh, ' ', h('span', { class: 'muted' }, 'after fixing a schema in AEP; then replay the schema_mismatch dead letters.')),
    status,
    ...report.routes.flatMap(routeTable),
  ];
}
