import { customerIdentifiersOf, customerIdOf } from '../../mapping/identities.js';
import type { CapillaryEvent } from '../../mapping/capillary-event.js';
import type { AttemptOutcome, AttemptView, EventSummary } from '../console-types.js';
import type { AttemptRow, SearchRow } from './console-sql.js';
import type { EventState } from '../types.js';
import { withoutNul } from './text.js';
import type { AttemptDetail, Settlement } from '../types.js';

const num = (value: number | string): number => (typeof value === 'number' ? value : Number(value));

/** The customer an event is about, as the mapper reads it (a column, so events are searchable by it). */
export function customerIdOfEvent(event: CapillaryEvent): string | null {
  const id = customerIdOf(customerIdentifiersOf(event.data), event.data);
  return id === undefined ? null : withoutNul(id);
}

export function toEventSummary(row: SearchRow): EventSummary {
  return {
    eventId: row.event_id,
    eventName: row.event_name,
    customerId: row.customer_id,
    route: row.route,
    receivedAt: num(row.received_at),
    state: row.state as EventState,
  };
}

export function toAttemptView(row: AttemptRow): AttemptView {
  return {
    messageId: num(row.message_id),
    outcome: row.outcome as AttemptOutcome,
    at: num(row.at),
    durationMs: row.duration_ms,
    status: row.status,
    batchSize: row.batch_size,
    ...(row.xaction_id !== null ? { xactionId: row.xaction_id } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
  };
}

/** One attempt row per settlement that carries attempt details (a release carries none). */
export interface AttemptInsert {
  messageId: number;
  at: number;
  durationMs: number;
  status: number | null;
  batchSize: number;
  outcome: AttemptOutcome;
  xactionId: string | null;
  error: string | null;
}

/** An attempt's details as both engines store them, in a row or on a delivered message: whole, non-negative milliseconds, no NUL. */
export function storedAttempt(a: AttemptDetail): Omit<AttemptInsert, 'messageId' | 'outcome'> {
  return {
    at: a.at,
    durationMs: Math.max(0, Math.round(a.durationMs)),
    status: a.status,
    batchSize: a.batchSize,
    xactionId: a.xactionId === undefined ? null : withoutNul(a.xactionId),
    error: a.error === undefined ? null : withoutNul(a.error),
  };
}

export function attemptsOf(settlements: Settlement[]): AttemptInsert[] {
  const out: AttemptInsert[] = [];
  for (const s of settlements) {
    if (s.outcome === 'release' || !s.attempt) continue;
    out.push({ messageId: s.id, outcome: s.outcome, ...storedAttempt(s.attempt) });
  }
  return out;
}
