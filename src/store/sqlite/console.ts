import type Database from 'better-sqlite3';
import {
  acceptedPerMinuteSql,
  ATTEMPTS_OF_EVENT,
  countDeadLettersSql,
  deadLetterGroupsSql,
  deadLettersSql,
  deliveredPerMinuteSql,
  Params,
  placeholders,
  searchEventsSql,
  TRIM_ATTEMPTS,
  type AttemptRow,
  type SearchRow,
} from '../shared/console-sql.js';
import { attemptsOf, toAttemptView, toEventSummary } from '../shared/console-rows.js';
import { encodeCursor, type ActivityMinute, type ConsoleQueries, type DeadLetterGroup } from '../console-types.js';
import { withoutNul } from '../shared/text.js';
import type { Settlement } from '../types.js';
import { toDeadLetterView, type MessageRow } from '../shared/views.js';

type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never };

/**
 * The SQLite side of the console (issue 14): synchronous queries the store wraps, attempt recording
 * inside the settle transaction, and attempt pruning inside the prune transaction.
 */
export function createSqliteConsole(db: Database.Database) {
  const sql = (text: string) => placeholders(text, 'sqlite');
  const insertAttempt = db.prepare(
    `INSERT INTO delivery_attempts (message_id, event_id, at, duration_ms, status, batch_size, outcome, xaction_id, error)
     SELECT ?, event_id, ?, ?, ?, ?, ?, ?, ? FROM messages WHERE id = ?`,
  );
  const trimAttempts = db.prepare(sql(TRIM_ATTEMPTS));
  const attemptsOfEvent = db.prepare(sql(ATTEMPTS_OF_EVENT));
  /** Statements built per filter shape are few: cache them by text. */
  const cache = new Map<string, Database.Statement>();
  const all = <T>(build: (params: Params) => string): T[] => {
    const params = new Params('sqlite');
    const text = build(params);
    let statement = cache.get(text);
    if (!statement) {
      statement = db.prepare(text);
      if (cache.size < 200) cache.set(text, statement);
    }
    return statement.all(...params.values) as T[];
  };

  const queries: Sync<ConsoleQueries> = {
    searchEvents(search) {
      const clean = search.text === undefined ? search : { ...search, text: withoutNul(search.text) };
      let unreadableCursor = false;
      const rows = all<SearchRow>((params) => {
        const text = searchEventsSql(clean, params);
        if (text === undefined) unreadableCursor = true;
        return text ?? 'SELECT 1 WHERE 0';
      });
      if (unreadableCursor) return { items: [], next: null };
      const items = rows.map(toEventSummary);
      const last = items[items.length - 1];
      return { items, next: last && items.length === search.limit ? encodeCursor(last.receivedAt, last.eventId) : null };
    },
    listAttempts(eventId) {
      const id = withoutNul(eventId);
      return (attemptsOfEvent.all(id, id) as AttemptRow[]).map(toAttemptView);
    },
    deadLetterGroups(filter) {
      return all<{ reason: string | null; n: number; oldest: number | null; newest: number | null }>((p) => deadLetterGroupsSql(filter, p)).map(
        (r): DeadLetterGroup => ({ reason: r.reason ?? 'unknown', count: r.n, oldestAt: r.oldest, newestAt: r.newest }),
      );
    },
    listDeadLettersFiltered(filter) {
      return all<MessageRow>((p) => deadLettersSql(filter, p)).map(toDeadLetterView);
    },
    countDeadLetters(filter) {
      return all<{ n: number }>((p) => countDeadLettersSql(filter, p))[0]?.n ?? 0;
    },
    activity(since, until) {
      const accepted = all<{ minute: number; n: number }>((p) => acceptedPerMinuteSql(since, until, p));
      const delivered = all<{ minute: number; n: number }>((p) => deliveredPerMinuteSql(since, until, p));
      return mergeMinutes(since, until, accepted, delivered);
    },
  };

  return {
    queries,
    /** Inside the settle transaction: one row per attempt, the message's history trimmed to its bound. */
    recordAttempts(settlements: Settlement[]) {
      for (const a of attemptsOf(settlements)) {
        insertAttempt.run(a.messageId, a.at, a.durationMs, a.status, a.batchSize, a.outcome, a.xactionId, a.error, a.messageId);
        trimAttempts.run(a.messageId, a.messageId);
      }
    },
  };
}

/** Every minute of [since, until), zeros included, so a chart has no gaps. */
export function mergeMinutes(
  since: number,
  until: number,
  accepted: { minute: number | string; n: number | string }[],
  delivered: { minute: number | string; n: number | string }[],
): ActivityMinute[] {
  const first = Math.floor(since / 60_000) * 60_000;
  const minutes = new Map<number, ActivityMinute>();
  for (let m = first; m < until; m += 60_000) minutes.set(m, { minute: m, accepted: 0, delivered: 0 });
  for (const r of accepted) {
    const slot = minutes.get(Number(r.minute));
    if (slot) slot.accepted = Number(r.n);
  }
  for (const r of delivered) {
    const slot = minutes.get(Number(r.minute));
    if (slot) slot.delivered = Number(r.n);
  }
  return [...minutes.values()];
}
export type SqliteConsole = ReturnType<typeof createSqliteConsole>;
