import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { ClaimedMessage } from '../store/types.js';
import type { Settlement } from '../store/types.js';
import { intakeLinks, tracer } from './spans.js';

/**
 * Runs one delivery attempt inside a span of its own (a new trace: the webhook's trace ended at
 * the 202), linked to the intake span of each event it carries and sampled as they were
 * (src/tracing/sampler.ts). The Adobe calls made inside are its children.
 */
export function withBatchSpan<T>(batch: ClaimedMessage[], work: (span: Span) => Promise<T>): Promise<T> {
  const attempt = 1 + Math.max(0, ...batch.map((m) => m.attempts));
  return tracer().startActiveSpan(
    'deliver batch',
    {
      kind: SpanKind.PRODUCER,
      root: true,
      links: intakeLinks(batch),
      attributes: { 'messaging.batch.message_count': batch.length, 'capillary.batch.size': batch.length, 'capillary.delivery.attempt': attempt },
    },
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'delivery outcome not recorded' });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * The batch's outcome on its span: counts as attributes, retries as one event per reason and
 * each dead letter as an event (reasons and ids only: Adobe's detail text stays in the store).
 */
export function recordSettlements(span: Span, batch: ClaimedMessage[], settlements: Settlement[]): void {
  if (!span.isRecording()) return;
  const byId = new Map(batch.map((m) => [m.id, m]));
  const retries = new Map<string, number>();
  let delivered = 0;
  let dead = 0;
  for (const s of settlements) {
    if (s.outcome === 'delivered') delivered += 1;
    else if (s.outcome === 'retry') {
      const reason = s.error.split(':', 1)[0] ?? 'unknown';
      retries.set(reason, (retries.get(reason) ?? 0) + 1);
    } else if (s.outcome === 'dead') {
      dead += 1;
      const message = byId.get(s.id);
      span.addEvent('dead_letter', {
        'capillary.message_id': s.id,
        ...(message ? { 'capillary.event_id': message.eventId, 'capillary.delivery.attempt': message.attempts + 1 } : {}),
        'capillary.dead_reason': s.reason,
      });
    }
  }
  for (const [reason, messages] of retries) span.addEvent('retry', { 'capillary.retry_reason': reason, 'capillary.messages': messages });
  span.setAttributes({ 'capillary.delivered': delivered, 'capillary.retried': settlements.length - delivered - dead, 'capillary.dead_lettered': dead });
  if (delivered < settlements.length) span.setStatus({ code: SpanStatusCode.ERROR, message: 'not every message was delivered' });
}
