import { DEFAULT_ROUTE, type DeadLetterView, type EventState, type EventView, type MessageState, type MessageView, type StoredEvent, type StoredStatus } from '../types.js';
import type { MessageKind } from '../../mapping/types.js';

/** Row shapes shared by both SQL backends (column names are the same in SQLite and PostgreSQL). */
export interface EventRow {
  event_id: string;
  event_name: string;
  envelope: string;
  created_at: number | string | null;
  received_at: number | string;
  mapping_status: string;
  payload: string;
  route?: string | null;
}

/**
 * A message's body as one SQL expression: from message_bodies (SQLite's migration 10; PostgreSQL's
 * 11, which PostgreSQL does not write: docs/scaling.md), or messages.body for rows written before it. A scalar
 * subquery, so it also serves an UPDATE's RETURNING (the claims), where a join cannot go.
 */
export const messageBodyOf = (alias: string) => `coalesce((SELECT b.body FROM message_bodies b WHERE b.message_id = ${alias}.id), ${alias}.body)`;

/** What readers of whole message rows select (alias `m`): the row, and its body wherever it is kept. */
export const MESSAGE_ROWS = `m.*, ${messageBodyOf('m')} AS message_body FROM messages m`;

export interface MessageRow {
  id: number | string;
  event_id: string;
  kind: string;
  /** The body wherever it is kept (MESSAGE_ROWS); the row's own `body` is '' where it moved out. */
  message_body: string;
  state: string;
  attempts: number;
  next_attempt_at: number | string;
  last_error: string | null;
  dead_reason: string | null;
  accepted_at: number | string;
  settled_at: number | string | null;
  route?: string | null;
}

const num = (value: number | string): number => (typeof value === 'number' ? value : Number(value));
const numOrNull = (value: number | string | null): number | null => (value === null ? null : num(value));

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    eventId: row.event_id,
    eventName: row.event_name,
    envelope: row.envelope,
    createdAt: numOrNull(row.created_at),
    receivedAt: num(row.received_at),
    mappingStatus: row.mapping_status as StoredStatus,
    route: row.route ?? DEFAULT_ROUTE,
    payload: row.payload,
  };
}

function toMessageView(row: MessageRow): MessageView {
  const state = row.state as MessageState;
  return {
    id: num(row.id),
    kind: row.kind as MessageKind,
    state,
    attempts: row.attempts,
    nextAttemptAt: state === 'pending' || state === 'in_flight' ? num(row.next_attempt_at) : null,
    lastError: row.last_error,
    deadReason: row.dead_reason,
    deliveredAt: state === 'delivered' ? numOrNull(row.settled_at) : null,
    message: parseJson(row.message_body),
  };
}

function deriveState(mappingStatus: string, messages: MessageView[]): EventState {
  if (mappingStatus === 'unmapped') return 'unmapped';
  if (mappingStatus === 'held') return 'held';
  if (messages.some((m) => m.state === 'pending' || m.state === 'in_flight')) return 'pending';
  if (messages.some((m) => m.state === 'dead')) return 'dead';
  if (messages.some((m) => m.state === 'delivered')) return 'delivered';
  return 'no_output';
}

export function toEventView(row: EventRow, messageRows: MessageRow[]): EventView {
  const { payload, ...event } = toStoredEvent(row);
  const messages = messageRows.map(toMessageView);
  const withError = [...messages].reverse().find((m) => m.lastError !== null);
  return {
    ...event,
    state: deriveState(row.mapping_status, messages),
    attempts: messages.reduce((max, m) => Math.max(max, m.attempts), 0),
    lastError: withError?.lastError ?? null,
    messages,
    payload: parseJson(payload),
  };
}

export function toDeadLetterView(row: MessageRow): DeadLetterView {
  return {
    id: num(row.id),
    eventId: row.event_id,
    route: row.route ?? DEFAULT_ROUTE,
    kind: row.kind as MessageKind,
    reason: row.dead_reason ?? 'unknown',
    error: row.last_error,
    attempts: row.attempts,
    deadAt: numOrNull(row.settled_at),
    message: parseJson(row.message_body),
  };
}
