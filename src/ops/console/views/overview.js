import { api } from '../api.js';
import { activityChart } from '../chart.js';
import { ago, h, time } from '../dom.js';

const card = (label, value) => h('div', { class: 'card' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));

export async function overviewPage() {
  const s = await api('/admin/summary');
  const token = s.token.state === 'not_used' ? 'not used' : s.token.state === 'valid' ? 'valid' : `missing${s.token.lastErrorCode ? ` (${s.token.lastErrorCode})` : ''}`;
  return [
    h('h1', {}, 'Overview'),
    h(
      'div',
      { class: 'cards' },
      card('Queue depth (messages)', s.queue.pending),
      card('Oldest pending', s.queue.pending ? ago(s.queue.oldestPendingAgeMs) : '—'),
      card('Dead letters', s.queue.deadLetters),
      card('IMS token', token),
      card('Circuit to Adobe', s.circuit),
    ),
    h('h2', {}, 'Accepted vs delivered per minute (last hour)'),
    h('div', { class: 'chart' }, activityChart(s.perMinute)),
    h('p', { class: 'legend' }, h('span', { class: 'swatch-accepted' }, '━ accepted events'), h('span', { class: 'swatch-delivered' }, '╍ delivered messages')),
    h('h2', {}, 'Dead letters by reason'),
    s.deadLetters.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h('ul', {}, s.deadLetters.map((g) => h('li', {}, h('a', { href: `#/dead-letters?reason=${encodeURIComponent(g.reason)}` }, g.reason), `: ${g.count}`))),
    h('p', { class: 'muted' }, 'As of ', time(s.now)),
  ];
}
