import type { MessageKind } from '../../mapping/types.js';
import { REJECTED_AFTER_ACCEPTANCE, type AccountingMessage, type AccountingRun, type AccountingWindowRecord, type RelayCounts } from '../accounting-types.js';
import type { MessageState, Settlement } from '../types.js';

/**
 * The accounting job's queries (issue 17), written once for both stores with `{n}` placeholders
 * (console-sql.ts `placeholders`). The counts read covering indexes only (events_accounting,
 * messages_settled: the schema's accounting migration), so an hour at a million stored events is a
 * short index range, not a table scan.
 */

// `coalesce(route, 'default')` exactly as the events_accounting index writes it: the environment's
// route stores NULL, and SQLite matches an expression index only on the same expression.
export const EVENT_COUNTS = `SELECT count(*) AS accepted,
    coalesce(sum(CASE WHEN mapping_status = 'held' THEN 1 ELSE 0 END), 0) AS held,
    coalesce(sum(CASE WHEN mapping_status = 'unmapped' THEN 1 ELSE 0 END), 0) AS unmapped
  FROM events WHERE coalesce(route, 'default') = {1} AND received_at >= {2} AND received_at < {3}`;

export const MESSAGE_COUNTS = `SELECT kind,
    sum(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS delivered,
    sum(CASE WHEN state = 'dead' AND dead_reason = '${REJECTED_AFTER_ACCEPTANCE}' THEN 1 ELSE 0 END) AS rejected,
    sum(CASE WHEN state = 'dead' AND coalesce(dead_reason, '') <> '${REJECTED_AFTER_ACCEPTANCE}' THEN 1 ELSE 0 END) AS dead
  FROM messages WHERE route = {1} AND settled_at >= {2} AND settled_at < {3} AND state IN ('delivered', 'dead')
  GROUP BY kind ORDER BY kind`;

const MESSAGE_COLUMNS = 'm.id, m.event_id, m.kind, m.state, m.dead_reason, m.settled_at';

// From the customer's few events (events_customer), then their messages (messages_event). The route
// and time terms are written so no index matches them (`|| ''`, unary plus, in both engines): on
// events_accounting or messages_settled the planner would read every event or message of the route.
export const PROFILES_OF_CUSTOMER = `SELECT ${MESSAGE_COLUMNS} FROM messages m
  WHERE m.event_id IN (SELECT e.event_id FROM events e WHERE e.customer_id = {1} AND coalesce(e.route, 'default') || '' = {2})
    AND m.route || '' = {3} AND m.kind = 'profile' AND m.state IN ('delivered', 'dead') AND +m.settled_at >= {4} AND +m.settled_at < {5}
  ORDER BY m.id`;

/** `{ids}`: the engine's list of event ids (json_each in SQLite, ANY in PostgreSQL). */
export const messagesOfEventsSql = (ids: string) =>
  `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.route = {1} AND m.kind = {2} AND m.event_id IN (${ids}) ORDER BY m.id`;

export const REJECT_DELIVERED = `UPDATE messages SET state = 'dead', dead_reason = '${REJECTED_AFTER_ACCEPTANCE}', last_error = {1}
  WHERE id = {2} AND state = 'delivered'`;

export const DELETE_OVERLAPPING_WINDOWS = `DELETE FROM accounting_windows
  WHERE route = {1} AND window_start < {2} AND window_end > {3} AND window_start <> {4}`;
export const UPSERT_WINDOW = `INSERT INTO accounting_windows (route, window_start, window_end, judged_at, run_id, report)
  VALUES ({1}, {2}, {3}, {4}, {5}, {6})
  ON CONFLICT (route, window_start) DO UPDATE SET window_end = excluded.window_end, judged_at = excluded.judged_at,
    run_id = excluded.run_id, report = excluded.report`;
export const LIST_WINDOWS = `SELECT route, window_start, window_end, judged_at, run_id, report FROM accounting_windows
  WHERE window_start < {1} AND window_end > {2} ORDER BY route, window_start`;
export const LIST_ROUTE_WINDOWS = `SELECT route, window_start, window_end, judged_at, run_id, report FROM accounting_windows
  WHERE route = {1} AND window_start < {2} AND window_end > {3} ORDER BY route, window_start`;

export const START_RUN = 'INSERT INTO accounting_runs (run_id, started_at, params) VALUES ({1}, {2}, {3})';
export const FINISH_RUN = 'UPDATE accounting_runs SET finished_at = {1} WHERE run_id = {2}';
export const FORGET_RUNS = 'DELETE FROM accounting_runs WHERE run_id <> {1}';
export const FORGET_WINDOWS = 'DELETE FROM accounting_windows WHERE window_end < {1}';
export const LATEST_RUN = 'SELECT run_id, started_at, params, finished_at FROM accounting_runs ORDER BY started_at DESC, run_id DESC LIMIT 1';

const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

export interface MessageCountRow {
  kind: string;
  delivered: number | string | null;
  rejected: number | string | null;
  dead: number | string | null;
}

export function toRelayCounts(events: { accepted: number | string; held: number | string; unmapped: number | string } | undefined, messages: MessageCountRow[]): RelayCounts {
  return {
    accepted: num(events?.accepted ?? 0),
    held: num(events?.held ?? 0),
    unmapped: num(events?.unmapped ?? 0),
    messages: messages.map((r) => ({ kind: r.kind as MessageKind, delivered: num(r.delivered ?? 0), rejectedAfterAcceptance: num(r.rejected ?? 0), dead: num(r.dead ?? 0) })),
  };
}

export interface AccountingMessageRow {
  id: number | string;
  event_id: string;
  kind: string;
  state: string;
  dead_reason: string | null;
  settled_at: number | string | null;
}

export const toAccountingMessage = (r: AccountingMessageRow): AccountingMessage => ({
  id: num(r.id),
  eventId: r.event_id,
  kind: r.kind as MessageKind,
  state: r.state as MessageState,
  deadReason: r.dead_reason,
  settledAt: r.settled_at === null ? null : num(r.settled_at),
});

export interface WindowRow {
  route: string;
  window_start: number | string;
  window_end: number | string;
  judged_at: number | string;
  run_id: string;
  report: string;
}

export const toWindowRecord = (r: WindowRow): AccountingWindowRecord => ({
  route: r.route,
  from: num(r.window_start),
  to: num(r.window_end),
  judgedAt: num(r.judged_at),
  runId: r.run_id,
  report: r.report,
});

export interface RunRow {
  run_id: string;
  started_at: number | string;
  params: string;
  finished_at: number | string | null;
}

export const toRun = (r: RunRow): AccountingRun => ({ runId: r.run_id, startedAt: num(r.started_at), params: r.params, finishedAt: r.finished_at === null ? null : num(r.finished_at) });

/** The move's line in the message's history (the console's attempt log): when, and Adobe's words. */
export const rejectionAttempt = (messageId: number, error: string, now: number): Settlement => ({
  id: messageId,
  outcome: 'dead',
  reason: REJECTED_AFTER_ACCEPTANCE,
  error,
  attempt: { at: now, durationMs: 0, status: null, batchSize: 0, error },
});
