// Accepted vs delivered per minute as an inline SVG line chart: two polylines, axes, no library.
const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 180;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

const svgEl = (tag, attrs) => {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
};

export function activityChart(perMinute) {
  const max = Math.max(1, ...perMinute.map((p) => Math.max(p.accepted, p.delivered)));
  const n = Math.max(1, perMinute.length - 1);
  const x = (i) => PAD.left + (i / n) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const total = (key) => perMinute.reduce((s, p) => s + p[key], 0);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Accepted vs delivered per minute, last hour: ${total('accepted')} accepted, ${total('delivered')} delivered` });
  svg.append(svgEl('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, stroke: '#8c959f' }));
  svg.append(svgEl('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, stroke: '#8c959f' }));
  const label = (text, attrs) => {
    const t = svgEl('text', { 'font-size': 11, fill: '#57606a', ...attrs });
    t.textContent = text;
    svg.append(t);
  };
  label(String(max), { x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end' });
  label('0', { x: PAD.left - 4, y: H - PAD.bottom, 'text-anchor': 'end' });
  label('−60 min', { x: PAD.left, y: H - 6 });
  label('now', { x: W - PAD.right, y: H - 6, 'text-anchor': 'end' });
  for (const [key, color, dash] of [['accepted', '#0a58ca', ''], ['delivered', '#116329', '6 3']]) {
    const points = perMinute.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    svg.append(svgEl('polyline', { points, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash || 'none', 'data-series': key }));
  }
  return svg;
}
