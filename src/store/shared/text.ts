import type { MappingResult, QueuedMessage } from '../../mapping/types.js';
import type { NewEvent, Settlement } from '../types.js';

/**
 * PostgreSQL cannot store U+0000 in text (`invalid byte sequence for encoding "UTF8": 0x00`), so one
 * NUL in a customer id or an error message would fail the write, and the webhook would answer 503 to
 * every redelivery of that event for ever. Every text value a store writes passes through here; both
 * stores do the same, so they keep one behaviour. JSON bodies need nothing: JSON.stringify writes a
 * NUL inside a string as the six characters `\u0000`, which text columns take.
 */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}

export function cleanMapping<M extends QueuedMessage>(mapping: MappingResult<M>): MappingResult<M> {
  if (!mapping.messages.some((m) => m.profileKey?.includes('\u0000'))) return mapping;
  return {
    ...mapping,
    messages: mapping.messages.map((m) => (m.profileKey === undefined ? m : { ...m, profileKey: withoutNul(m.profileKey) })),
  };
}

export function cleanNewEvent(input: NewEvent): NewEvent {
  const { event } = input;
  return {
    ...input,
    event: { ...event, eventId: withoutNul(event.eventId), eventName: withoutNul(event.eventName) },
    payload: withoutNul(input.payload),
    ...(input.traceParent !== undefined ? { traceParent: withoutNul(input.traceParent) } : {}),
    ...(typeof input.customerId === 'string' ? { customerId: withoutNul(input.customerId) } : {}),
    mapping: cleanMapping(input.mapping),
  };
}

export function cleanSettlements(settlements: Settlement[]): Settlement[] {
  return settlements.map((s) =>
    s.outcome === 'retry' ? { ...s, error: withoutNul(s.error) } : s.outcome === 'dead' ? { ...s, reason: withoutNul(s.reason), error: withoutNul(s.error) } : s,
  );
}
