import type { MappingResult, QueuedMessage } from '../mapping/types.js';
import type { AccountingQueries } from './accounting-types.js';
import type { ConsoleQueries } from './console-types.js';
import type { AcceptResult, ClaimedMessage, DeadLetterView, EventView, NewEvent, QueueStats, ReplayFilter, Settlement, StoredEvent } from './records.js';

export * from './records.js';

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
export interface Store extends ConsoleQueries, AccountingQueries {
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
