import type { CapillaryEvent } from '../mapping/capillary-event.js';
import type { MappingResult, MappingStatus, MessageKind, QueuedMessage } from '../mapping/types.js';

/** The records the store keeps and hands out: events, their messages, states and views (see types.ts for the Store). */
export type MessageState = 'pending' | 'in_flight' | 'delivered' | 'dead' | 'skipped';

/** The state an operator sees for an event, derived from its messages. */
export type EventState = 'unmapped' | 'held' | 'pending' | 'delivered' | 'dead' | 'no_output';

/** How an event was stored: mapped, unmapped (no mapper yet), or held (its org is not its route's: never sent). */
export type StoredStatus = MappingStatus | 'held';

/** The route of events stored before routes existed, and of the environment's route. */
export const DEFAULT_ROUTE = 'default';

export interface NewEvent {
  event: CapillaryEvent;
  /** The body exactly as received (kept for replay after a mapping change). */
  payload: string;
  mapping: MappingResult<QueuedMessage>;
  /**
   * The route that received it (issue 13): stored with the event and each of its messages, and only
   * that route's delivery ever claims them. Unset: the environment's route (`default`; the event's
   * route column stays NULL, as before routes existed).
   */
  route?: string;
  /** Its org is not one of its route's: stored, no message queued, until a replay after the routes file is fixed. */
  held?: boolean;
  /** The intake span as a W3C traceparent, when tracing is on (src/tracing/). */
  traceParent?: string;
  /**
   * The console's customer id of the event, when the caller worked it out already (the SQLite
   * thread's proxy does, so the parsed body need not cross to the thread). Unset: read from `event`.
   */
  customerId?: string | null;
}

export type AcceptResult = { outcome: 'accepted'; skippedProfiles: number } | { outcome: 'duplicate' };

/** `attempt`: what the delivery attempt looked like, kept in the message's history (console-types.ts). */
export type Settlement =
  | { id: number; outcome: 'delivered'; attempt?: AttemptDetail }
  | { id: number; outcome: 'retry'; nextAttemptAt: number; error: string; attempt?: AttemptDetail }
  | { id: number; outcome: 'dead'; reason: string; error: string; attempt?: AttemptDetail }
  /** Gives a claimed message back unsent (e.g. the circuit opened): no attempt is counted. */
  | { id: number; outcome: 'release'; nextAttemptAt: number };

/** A message leased from the store for one delivery attempt. */
export interface ClaimedMessage {
  id: number;
  eventId: string;
  kind: MessageKind;
  /** The DCS message, serialized once at enqueue time: sent as is. */
  body: string;
  /** Attempts made before this one. */
  attempts: number;
  /** Epoch ms when the event was accepted (for latency and retry expiry). */
  acceptedAt: number;
  /** The event's intake span (W3C traceparent) when it was traced: the delivery span links to it. */
  traceParent?: string;
}

export interface MessageView {
  id: number;
  kind: MessageKind;
  state: MessageState;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  deadReason: string | null;
  deliveredAt: number | null;
  message: unknown;
}

export interface StoredEvent {
  eventId: string;
  eventName: string;
  envelope: string;
  createdAt: number | null;
  receivedAt: number;
  mappingStatus: StoredStatus;
  route: string;
  payload: string;
}

export interface EventView extends Omit<StoredEvent, 'payload'> {
  state: EventState;
  attempts: number;
  lastError: string | null;
  messages: MessageView[];
  payload: unknown;
}

export interface DeadLetterView {
  id: number;
  eventId: string;
  route: string;
  kind: MessageKind;
  reason: string;
  error: string | null;
  attempts: number;
  deadAt: number | null;
  message: unknown;
}

export interface QueueStats {
  pending: number;
  oldestPendingAgeMs: number;
  deadLetters: number;
}

export interface ReplayFilter {
  mappingStatus?: StoredStatus;
  /** Only events of this route. */
  route?: string;
  eventIds?: string[];
  limit: number;
  /** Keyset paging: events with an id greater than this. */
  afterEventId?: string;
}

/** One delivery attempt of one message, as the delivery worker saw it. */
export interface AttemptDetail {
  /** Epoch ms when the request to Adobe started. */
  at: number;
  durationMs: number;
  /** Adobe's HTTP status; null for a network error or timeout (then `error` says which). */
  status: number | null;
  batchSize: number;
  /** Adobe's transaction id for this message, on success. */
  xactionId?: string;
  /** Adobe's message, or the network error, on failure. */
  error?: string;
}
