import type { AttemptDetail, DeadLetterView, EventState, QueueStats } from './records.js';

export type { AttemptDetail };

/**
 * What the operator console (issue 14) asks of a store: searches, attempt histories and activity
 * counts. Both stores implement it (sqlite/console.ts, postgres/console.ts) over the same SQL
 * (shared/console-sql.ts) and pass one contract (test/store/store-contract-console.ts).
 */

export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface AttemptView extends AttemptDetail {
  messageId: number;
  outcome: AttemptOutcome;
}

/** Attempts kept per message: the last ones tell the story; older ones are dropped as new ones come. */
export const ATTEMPTS_KEPT_PER_MESSAGE = 20;

export interface EventSearch {
  /** An event id or a customer id, matched exactly. */
  text?: string;
  eventName?: string;
  state?: EventState;
  /** Only events received by this route (issue 13). */
  route?: string;
  /** received_at >= from (epoch ms). */
  from?: number;
  /** received_at < to (epoch ms). */
  to?: number;
  limit: number;
  /** Keyset paging, newest first: the `next` cursor of the previous page. */
  before?: string;
}

export interface EventSummary {
  eventId: string;
  eventName: string;
  customerId: string | null;
  route: string | null;
  receivedAt: number;
  state: EventState;
}

export interface DeadLetterFilter {
  reason?: string;
  /** Only messages of this route (issue 13). */
  route?: string;
  /** settled (dead) at >= from. */
  from?: number;
  /** settled (dead) at < to. */
  to?: number;
}

export interface DeadLetterGroup {
  reason: string;
  count: number;
  oldestAt: number | null;
  newestAt: number | null;
}

export interface ActivityMinute {
  /** Start of the minute, epoch ms. */
  minute: number;
  accepted: number;
  delivered: number;
}

export interface ConsoleQueries {
  searchEvents(search: EventSearch): Promise<{ items: EventSummary[]; next: string | null }>;
  /** Attempts of every message of the event, oldest first. */
  listAttempts(eventId: string): Promise<AttemptView[]>;
  deadLetterGroups(filter: DeadLetterFilter): Promise<DeadLetterGroup[]>;
  listDeadLettersFiltered(filter: DeadLetterFilter & { limit: number; afterId?: number }): Promise<DeadLetterView[]>;
  countDeadLetters(filter: DeadLetterFilter): Promise<number>;
  /** Events accepted and messages delivered per minute in [since, until). */
  activity(since: number, until: number): Promise<ActivityMinute[]>;
}

export type { QueueStats };

/** Keyset cursor of an event search: received_at and event id of the last row shown. */
export function encodeCursor(receivedAt: number, eventId: string): string {
  return Buffer.from(JSON.stringify([receivedAt, eventId])).toString('base64url');
}

export function decodeCursor(cursor: string): { receivedAt: number; eventId: string } | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') return { receivedAt: value[0], eventId: value[1] };
  } catch {
    // fall through
  }
  return undefined;
}
