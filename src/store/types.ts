import type { CapillaryEvent } from '../mapping/capillary-event.js';
import type { MappingResult, MappingStatus, MessageKind, QueuedMessage } from '../mapping/types.js';
import type { AttemptDetail, ConsoleQueries } from './console-types.js';

/**
 * The durable store behind the relay: events (for deduplication, replay and the admin API) and
 * their outbound XDM messages (the delivery queue). Two implementations, SQLite and PostgreSQL,
 * pass one contract suite (test/store/store-contract.ts).
 *
 * Message states: pending -> in_flight (leased) -> delivered | dead, back to pending on a retry or
 * an expired lease; `skipped` for profile records superseded by a newer one (out-of-order guard).
 * A lease is a `next_attempt_at` in the future: an in-flight message whose lease ran out is due again,
 * so a crashed worker's messages are redelivered once, with the same body (same XDM `_id`).
 */
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

export interface Store extends ConsoleQueries {
  readonly backend: 'sqlite' | 'postgres';
  /** Commits the event and its messages atomically; resolves only once durable. */
  acceptEvent(input: NewEvent): Promise<AcceptResult>;
  /** Leases up to `limit` due messages (oldest due first) to `owner` until `now + leaseMs`; only `route`'s when given. */
  claimDue(options: { owner: string; now: number; leaseMs: number; limit: number; route?: string }): Promise<ClaimedMessage[]>;
  /** Records attempt outcomes; ignored for messages whose lease `owner` no longer holds. */
  settle(owner: string, settlements: Settlement[], now: number): Promise<void>;
  /**
   * Makes due at `now` every pending message whose retry waits on a failure of one of these kinds:
   * those whose last error starts with `<reason>:` (as the delivery worker writes it). Used when a
   * failing endpoint answers again, so its backlog drains at once instead of each message waiting
   * out its own backoff. Returns how many; tells onWork listeners when any.
   */
  makeDueNow(reasons: readonly string[], now: number): Promise<number>;
  /** Earliest time a message becomes due, if any (lets an idle worker sleep exactly that long). */
  nextDueAt(route?: string): Promise<number | undefined>;
  getEvent(eventId: string): Promise<EventView | undefined>;
  listDeadLetters(options: { limit: number; afterId?: number; route?: string }): Promise<DeadLetterView[]>;
  /**
   * Moves dead letters (all, or the given message ids) back to pending. Returns how many. A profile
   * record whose member has had a newer record queued since is skipped instead (not counted).
   */
  replayDeadLetters(ids: number[] | 'all', now: number): Promise<number>;
  listEventsForReplay(filter: ReplayFilter): Promise<StoredEvent[]>;
  /**
   * Replaces an event's undelivered messages with a fresh mapping (replay after a mapping change).
   * Delivered messages stay as history. Returns false, changing nothing, while a message is in flight.
   */
  replaceMessages(eventId: string, mapping: MappingResult<QueuedMessage>, now: number): Promise<boolean>;
  queueStats(now: number): Promise<QueueStats>;
  /**
   * Deletes delivered history received before `olderThan`: events whose messages are all delivered or
   * skipped. Never dead letters, undelivered messages, or unmapped events (kept for replay).
   */
  prune(olderThan: number): Promise<{ events: number; messages: number }>;
  /** Throws StoreUnavailableError unless the store can commit a write now. */
  checkWritable(): Promise<void>;
  /** Called when new work may be due (local inserts, replays, or other replicas' inserts). */
  onWork(listener: () => void): () => void;
  close(): Promise<void>;
}
