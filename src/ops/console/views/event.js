import { api } from '../api.js';
import { h, stateBadge, time } from '../dom.js';

const json = (value) => h('pre', { tabindex: 0 }, JSON.stringify(value, null, 2));

function timeline(event, attempts) {
  const items = [
    { at: event.receivedAt, text: `Received (${event.envelope} envelope)` },
    { at: event.receivedAt, text: event.mappingStatus === 'mapped' ? `Mapped to ${event.messages.length} XDM message(s)` : 'Not mapped (no mapping for this event)' },
  ];
  for (const a of attempts) {
    // No request, batch of none: accounting found the message in one of Adobe's failed batches (issue 17).
    if (a.outcome === 'dead' && a.batchSize === 0) {
      items.push({ at: a.at, text: `Message ${a.messageId}: ${a.error ?? 'failed in Adobe after it was accepted'}` });
      continue;
    }
    const status = a.status === null ? 'network error' : `HTTP ${a.status}`;
    const detail = a.xactionId ? `xactionId ${a.xactionId}` : a.error ?? '';
    items.push({ at: a.at, text: `Attempt (message ${a.messageId}, batch of ${a.batchSize}): ${status}, ${a.outcome}, ${a.durationMs} ms${detail ? ` — ${detail}` : ''}` });
  }
  for (const m of event.messages) {
    if (m.state === 'delivered') items.push({ at: m.deliveredAt, text: `Message ${m.id} (${m.kind}) delivered` });
    else if (m.state === 'dead') items.push({ at: null, text: `Message ${m.id} (${m.kind}) dead: ${m.deadReason}${m.lastError ? ` — ${m.lastError}` : ''}`, dead: m.id });
    else if (m.state === 'skipped') items.push({ at: null, text: `Message ${m.id} (${m.kind}) skipped: ${m.deadReason}` });
    else items.push({ at: m.nextAttemptAt, text: `Message ${m.id} (${m.kind}) ${m.state.replace('_', ' ')}, next attempt` });
  }
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'Timeline' },
    items.map((i) => h('li', {}, i.at ? time(i.at) : '', i.text, i.dead ? [' ', replayButton([i.dead])] : '')),
  );
}

function replayButton(ids) {
  const button = h('button', { type: 'button' }, 'Replay');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const { requeued } = await api('/admin/dead-letters/replay', { method: 'POST', body: { ids } });
    button.replaceWith(h('span', { class: 'notice', role: 'status' }, requeued > 0 ? 'Re-queued' : 'Nothing to re-queue'));
  });
  return button;
}

export async function eventPage(eventId) {
  const enc = encodeURIComponent(eventId);
  const [event, attempts] = await Promise.all([api(`/admin/events/${enc}`), api(`/admin/events/${enc}/attempts`)]);
  const previewOut = h('div', { 'aria-live': 'polite' });
  const previewButton = h('button', { type: 'button' }, 'Preview mapping with the current mapper');
  previewButton.addEventListener('click', async () => {
    const preview = await api(`/admin/events/${enc}/preview`, { method: 'POST' });
    previewOut.replaceChildren(
      h('p', {}, `A replay would queue ${preview.messages.length} message(s) (${preview.status})${preview.warnings.length ? `; warnings: ${preview.warnings.join('; ')}` : ''}.`),
      ...preview.messages.map((m) => json(m.message)),
    );
  });
  return [
    h('h1', {}, 'Event ', h('code', {}, event.eventId)),
    h('p', {}, event.eventName || '(no name)', ' — ', stateBadge(event.state)),
    h('h2', {}, 'Timeline'),
    timeline(event, attempts.items),
    h('h2', {}, 'Payload and XDM'),
    h(
      'div',
      { class: 'side-by-side' },
      h('section', { 'aria-label': 'Raw payload' }, h('h3', {}, 'Raw payload'), json(event.payload)),
      h(
        'section',
        { 'aria-label': 'XDM messages' },
        h('h3', {}, `XDM messages (${event.messages.length})`),
        event.messages.length === 0 ? h('p', { class: 'muted' }, 'None.') : event.messages.map((m) => [h('p', {}, `Message ${m.id}, ${m.kind}: `, stateBadge(m.state)), json(m.message)]),
      ),
    ),
    h('h2', {}, 'Mapping preview'),
    previewButton,
    previewOut,
  ];
}
