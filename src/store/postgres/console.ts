import type { Pool, PoolClient } from 'pg';
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
  type AttemptRow,
  type SearchRow,
} from '../shared/console-sql.js';
import { attemptsOf, toAttemptView, toEventSummary } from '../shared/console-rows.js';
import { ATTEMPTS_KEPT_PER_MESSAGE, encodeCursor, type ConsoleQueries } from '../console-types.js';
import { mergeMinutes } from '../sqlite/console.js';
import { withoutNul } from '../shared/text.js';
import type { Settlement } from '../types.js';
import { toDeadLetterView, type MessageRow } from '../shared/views.js';

const INSERT_ATTEMPTS = `INSERT INTO delivery_attempts (message_id, event_id, at, duration_ms, status, batch_size, outcome, xaction_id, error)
  SELECT a.message_id, m.event_id, a.at, a.duration_ms, a.status, a.batch_size, a.outcome, a.xaction_id, a.error
  FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[])
       AS a(message_id, at, duration_ms, status, batch_size, outcome, xaction_id, error)
  JOIN messages m ON m.id = a.message_id`;

/** Each listed message's attempts beyond the newest ATTEMPTS_KEPT_PER_MESSAGE, in one statement. */
const TRIM_ATTEMPTS = `DELETE FROM delivery_attempts d USING (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY message_id ORDER BY id DESC) AS n
                    FROM delivery_attempts WHERE message_id = ANY($1::bigint[])) ranked
    WHERE n > ${ATTEMPTS_KEPT_PER_MESSAGE}) old WHERE d.id = old.id`;

/** Inside the settle transaction: every attempt in one statement, histories trimmed in another. */
export async function recordAttemptsPostgres(client: PoolClient, settlements: Settlement[]): Promise<void> {
  const attempts = attemptsOf(settlements);
  if (attempts.length === 0) return;
  await client.query(INSERT_ATTEMPTS, [
    attempts.map((a) => a.messageId),
    attempts.map((a) => a.at),
    attempts.map((a) => a.durationMs),
    attempts.map((a) => a.status),
    attempts.map((a) => a.batchSize),
    attempts.map((a) => a.outcome),
    attempts.map((a) => a.xactionId),
    attempts.map((a) => a.error),
  ]);
  await client.query(TRIM_ATTEMPTS, [[...new Set(attempts.map((a) => a.messageId))]]);
}

/** Inside the prune transaction, after messages and before events: the pruned events' attempts. */
/** The console's queries on PostgreSQL; `run` maps failures to StoreUnavailableError as the store does. */
export function createPostgresConsole(pool: Pool, run: <T>(fn: () => Promise<T>) => Promise<T>): ConsoleQueries {
  const all = async <T extends object>(build: (params: Params) => string): Promise<T[]> => {
    const params = new Params('postgres');
    const text = build(params);
    return (await pool.query<T>(text, params.values)).rows;
  };
  return {
    searchEvents(search) {
      return run(async () => {
        const clean = search.text === undefined ? search : { ...search, text: withoutNul(search.text) };
        const params = new Params('postgres');
        const text = searchEventsSql(clean, params);
        if (text === undefined) return { items: [], next: null };
        const items = (await pool.query<SearchRow>(text, params.values)).rows.map(toEventSummary);
        const last = items[items.length - 1];
        return { items, next: last && items.length === search.limit ? encodeCursor(last.receivedAt, last.eventId) : null };
      });
    },
    listAttempts(eventId) {
      return run(async () => (await pool.query<AttemptRow>(placeholders(ATTEMPTS_OF_EVENT, 'postgres'), [withoutNul(eventId)])).rows.map(toAttemptView));
    },
    deadLetterGroups(filter) {
      return run(async () =>
        (await all<{ reason: string | null; n: string; oldest: string | null; newest: string | null }>((p) => deadLetterGroupsSql(filter, p))).map((r) => ({
          reason: r.reason ?? 'unknown',
          count: Number(r.n),
          oldestAt: r.oldest === null ? null : Number(r.oldest),
          newestAt: r.newest === null ? null : Number(r.newest),
        })),
      );
    },
    listDeadLettersFiltered(filter) {
      return run(async () => (await all<MessageRow>((p) => deadLettersSql(filter, p))).map(toDeadLetterView));
    },
    countDeadLetters(filter) {
      return run(async () => Number((await all<{ n: string }>((p) => countDeadLettersSql(filter, p)))[0]?.n ?? 0));
    },
    activity(since, until) {
      return run(async () => {
        const accepted = await all<{ minute: string; n: string }>((p) => acceptedPerMinuteSql(since, until, p));
        const delivered = await all<{ minute: string; n: string }>((p) => deliveredPerMinuteSql(since, until, p));
        return mergeMinutes(since, until, accepted, delivered);
      });
    },
  };
}
