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
 * Where a message's body is read from: message_bodies (SQLite's migration 10; PostgreSQL's 11, which
 * this version does not write yet), or messages.body for rows written before it. Readers select
 * `m.*` and `stored_body` from here, and views take the body from `bodyOf`.
 */
export const MESSAGES_WITH_BODIES = 'messages m LEFT JOIN message_bodies b ON b.message_id = m.id';
export const MESSAGE_ROW_COLUMNS = 'm.*, b.body AS stored_body';

export interface MessageRow {
  id: number | string;
  event_id: string;
  kind: string;
  /** '' for rows written since the bodies moved out (see MESSAGES_WITH_BODIES). */
  body: string;
  stored_body?: string | null;
  state: string;
  attempts: number;
  next_attempt_at: number | string;
  last_error: string | null;
  dead_reason: string | null;
  accepted_at: number | string;
  settled_at: number | string | null;
  route?: string | null;
}

const bodyOf = (row: MessageRow): string => row.stored_body ?? row.body;
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
    message: parseJson(bodyOf(row)),
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
    message: parseJson(bodyOf(row)),
  };
}
