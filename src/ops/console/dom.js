// A tiny element builder: text always goes in as text nodes, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const time = (ms) => (ms === null || ms === undefined ? '—' : h('time', { datetime: new Date(ms).toISOString() }, new Date(ms).toLocaleString()));

export function ago(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export const stateBadge = (state) => h('span', { class: `state state-${state}` }, state);

/** datetime-local input value (local time) to epoch ms, or undefined. */
export const fromLocal = (value) => (value ? new Date(value).getTime() : undefined);
