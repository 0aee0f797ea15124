import { ATTEMPTS_KEPT_PER_MESSAGE, decodeCursor, type DeadLetterFilter, type EventSearch } from '../console-types.js';
import type { EventState } from '../types.js';
import { MESSAGE_ROWS } from './views.js';

/**
 * The console's queries (issue 14), written once for both stores: the SQL is the same in SQLite and
 * PostgreSQL but for placeholders, which `Params` writes as `?` or `$n`.
 */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly style: 'sqlite' | 'postgres') {}
  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return this.style === 'sqlite' ? '?' : `$${this.values.length}`;
  }
}

const messagesIn = (states: string) => `SELECT 1 FROM messages m WHERE m.event_id = e.event_id AND m.state IN (${states})`;

/** An event's state derived from its messages, as views.ts derives it for one event. */
export const EVENT_STATE_SQL = `CASE WHEN e.mapping_status = 'unmapped' THEN 'unmapped'
  WHEN e.mapping_status = 'held' THEN 'held'
  WHEN EXISTS (${messagesIn("'pending', 'in_flight'")}) THEN 'pending'
  WHEN EXISTS (${messagesIn("'dead'")}) THEN 'dead'
  WHEN EXISTS (${messagesIn("'delivered'")}) THEN 'delivered'
  ELSE 'no_output' END`;

export interface SearchRow {
  event_id: string;
  event_name: string;
  customer_id: string | null;
  route: string | null;
  received_at: number | string;
  state: string;
}

/**
 * Each state as plain EXISTS / NOT EXISTS conditions at the top of the WHERE clause (the same rule as
 * EVENT_STATE_SQL): PostgreSQL turns those into semi- and anti-joins that stop at the page's LIMIT.
 * The CASE itself in a WHERE clause is not: PostgreSQL evaluates its EXISTS as hashed subplans, a hash
 * of every delivered message built per query (seconds at a million events, bench:console).
 */
const stateWhere: Record<Exclude<EventState, 'unmapped' | 'held'>, string> = {
  pending: 'TRUE', // the events come from RARE_STATE_EVENTS
  dead: `NOT EXISTS (${messagesIn("'pending', 'in_flight'")})`,
  delivered: `EXISTS (${messagesIn("'delivered'")}) AND NOT EXISTS (${messagesIn("'pending', 'in_flight', 'dead'")})`,
  no_output: `NOT EXISTS (${messagesIn("'pending', 'in_flight', 'dead', 'delivered'")})`,
};

/**
 * Rare states start from their few messages (partial indexes messages_pending_event and
 * messages_dead_event) and look their events up by key: bounded by the dead letters or the queue,
 * not the events. Walking events newest first instead reads every event when the matches are old
 * (PostgreSQL's parallel walk did, 2 s at a million events); DISTINCT keeps this a separate step.
 */
const RARE_STATE_EVENTS: Partial<Record<EventState, string>> = {
  pending: `(SELECT DISTINCT event_id FROM messages WHERE state IN ('pending', 'in_flight')) s JOIN events e ON e.event_id = s.event_id`,
  dead: `(SELECT DISTINCT event_id FROM messages WHERE state = 'dead') s JOIN events e ON e.event_id = s.event_id`,
};

/**
 * Newest first, keyset-paged on (received_at, event_id). Rare states (pending, dead, unmapped) are
 * found from their own partial indexes; common ones by walking events newest first. The state is
 * derived for the page's rows only, after the LIMIT (in the select list over all candidate rows,
 * PostgreSQL would plan its EXISTS as hashed subplans over every message, as above).
 */
export function searchEventsSql(search: EventSearch, params: Params): string | undefined {
  const where: string[] = [];
  if (search.text !== undefined) {
    where.push(`(e.event_id = ${params.add(search.text)} OR e.customer_id = ${params.add(search.text)})`);
  }
  if (search.eventName !== undefined) where.push(`e.event_name = ${params.add(search.eventName)}`);
  if (search.route !== undefined) where.push(`coalesce(e.route, 'default') = ${params.add(search.route)}`);
  if (search.from !== undefined) where.push(`e.received_at >= ${params.add(search.from)}`);
  if (search.to !== undefined) where.push(`e.received_at < ${params.add(search.to)}`);
  if (search.before !== undefined) {
    const cursor = decodeCursor(search.before);
    if (!cursor) return undefined;
    where.push(`(e.received_at, e.event_id) < (${params.add(cursor.receivedAt)}, ${params.add(cursor.eventId)})`);
  }
  if (search.state === 'unmapped' || search.state === 'held') {
    where.push(`e.mapping_status = '${search.state}'`);
  } else if (search.state !== undefined) {
    where.push(`e.mapping_status NOT IN ('unmapped', 'held') AND ${stateWhere[search.state]}`);
  }
  const page = `SELECT e.event_id, e.event_name, e.customer_id, e.route, e.received_at, e.mapping_status
    FROM ${(search.state && RARE_STATE_EVENTS[search.state]) ?? 'events e'} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY e.received_at DESC, e.event_id DESC LIMIT ${params.add(search.limit)}`;
  return `SELECT e.event_id, e.event_name, e.customer_id, e.route, e.received_at, ${EVENT_STATE_SQL} AS state
    FROM (${page}) e ORDER BY e.received_at DESC, e.event_id DESC`;
}

function deadWhere(filter: DeadLetterFilter, params: Params): string {
  const where = [`state = 'dead'`];
  if (filter.reason !== undefined) where.push(`dead_reason = ${params.add(filter.reason)}`);
  if (filter.route !== undefined) where.push(`route = ${params.add(filter.route)}`);
  if (filter.from !== undefined) where.push(`settled_at >= ${params.add(filter.from)}`);
  if (filter.to !== undefined) where.push(`settled_at < ${params.add(filter.to)}`);
  return where.join(' AND ');
}

export function deadLetterGroupsSql(filter: DeadLetterFilter, params: Params): string {
  return `SELECT dead_reason AS reason, count(*) AS n, min(settled_at) AS oldest, max(settled_at) AS newest
    FROM messages WHERE ${deadWhere(filter, params)} GROUP BY dead_reason ORDER BY count(*) DESC, dead_reason`;
}

export function deadLettersSql(filter: DeadLetterFilter & { limit: number; afterId?: number }, params: Params): string {
  const where = deadWhere(filter, params);
  return `SELECT ${MESSAGE_ROWS} WHERE ${where} AND m.id > ${params.add(filter.afterId ?? 0)} ORDER BY m.id LIMIT ${params.add(filter.limit)}`;
}

export function countDeadLettersSql(filter: DeadLetterFilter, params: Params): string {
  return `SELECT count(*) AS n FROM messages WHERE ${deadWhere(filter, params)}`;
}

export function acceptedPerMinuteSql(since: number, until: number, params: Params): string {
  return `SELECT (received_at / 60000) * 60000 AS minute, count(*) AS n FROM events
    WHERE received_at >= ${params.add(since)} AND received_at < ${params.add(until)} GROUP BY (received_at / 60000)`;
}

/**
 * Deliveries per minute: each message's delivery, kept on its row (SQLite migration 9, PostgreSQL
 * 10), and the delivered attempt rows written before those.
 */
export function deliveredPerMinuteSql(since: number, until: number, params: Params): string {
  return `SELECT minute, sum(n) AS n FROM (
      SELECT (at / 60000) * 60000 AS minute, count(*) AS n FROM delivery_attempts
        WHERE at >= ${params.add(since)} AND at < ${params.add(until)} AND outcome = 'delivered' GROUP BY (at / 60000)
      UNION ALL
      SELECT (delivered_attempt_at / 60000) * 60000 AS minute, count(*) AS n FROM messages
        WHERE delivered_attempt_at >= ${params.add(since)} AND delivered_attempt_at < ${params.add(until)} GROUP BY (delivered_attempt_at / 60000)
    ) d GROUP BY minute`;
}

/**
 * An event's attempts, oldest first: the rows (attempts that failed, and deliveries recorded before
 * the delivery moved onto its message row) and each message's delivery, from its row. `{1}` twice:
 * SQLite binds it twice, PostgreSQL once.
 */
export const ATTEMPTS_OF_EVENT = `SELECT * FROM (
    SELECT id, message_id, event_id, at, duration_ms, status, batch_size, outcome, xaction_id, error
      FROM delivery_attempts WHERE event_id = {1}
    UNION ALL
    SELECT NULL AS id, id AS message_id, event_id, delivered_attempt_at AS at, delivered_duration_ms AS duration_ms,
           delivered_status AS status, delivered_batch_size AS batch_size, 'delivered' AS outcome,
           delivered_xaction_id AS xaction_id, NULL AS error
      FROM messages WHERE event_id = {1} AND delivered_attempt_at IS NOT NULL
  ) a ORDER BY at, id IS NULL, id`;

/** Drops a message's attempts beyond the newest ATTEMPTS_KEPT_PER_MESSAGE. */
export const TRIM_ATTEMPTS = `DELETE FROM delivery_attempts WHERE message_id = {1} AND id <= (
  SELECT id FROM delivery_attempts WHERE message_id = {2} ORDER BY id DESC LIMIT 1 OFFSET ${ATTEMPTS_KEPT_PER_MESSAGE})`;

/** Attempts of the events prune is about to delete (same condition as the events prune). */
/** `{n}` placeholders as each backend writes them (SQLite: plain `?`, bound in order of appearance). */
export function placeholders(sql: string, style: 'sqlite' | 'postgres'): string {
  return sql.replace(/\{(\d)\}/g, (_, n: string) => (style === 'sqlite' ? '?' : `$${n}`));
}

export interface AttemptRow {
  id: number | string;
  message_id: number | string;
  event_id: string;
  at: number | string;
  duration_ms: number;
  status: number | null;
  batch_size: number;
  outcome: string;
  xaction_id: string | null;
  error: string | null;
}
