import type Database from 'better-sqlite3';
import type { AccountingQueries } from '../accounting-types.js';
import {
  DELETE_OVERLAPPING_WINDOWS,
  EVENT_COUNTS,
  FINISH_RUN,
  FORGET_RUNS,
  FORGET_WINDOWS,
  LATEST_RUN,
  LIST_ROUTE_WINDOWS,
  LIST_WINDOWS,
  MESSAGE_COUNTS,
  messagesOfEventsSql,
  PROFILES_OF_CUSTOMER,
  REJECT_DELIVERED,
  rejectionAttempt,
  START_RUN,
  toAccountingMessage,
  toRelayCounts,
  toRun,
  toWindowRecord,
  UPSERT_WINDOW,
  type AccountingMessageRow,
  type MessageCountRow,
  type RunRow,
  type WindowRow,
} from '../shared/accounting-sql.js';
import { placeholders } from '../shared/console-sql.js';
import { withoutNul } from '../shared/text.js';
import type { SqliteConsole } from './console.js';

type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never };

/**
 * The SQLite side of accounting (issue 17): synchronous statements the store wraps. The lock is this
 * process's alone: a SQLite store has one process.
 */
export function createSqliteAccounting(db: Database.Database, consoleSql: SqliteConsole): Sync<AccountingQueries> {
  const prepare = (text: string) => db.prepare(placeholders(text, 'sqlite'));
  const sql = {
    eventCounts: prepare(EVENT_COUNTS),
    messageCounts: prepare(MESSAGE_COUNTS),
    profiles: prepare(PROFILES_OF_CUSTOMER),
    ofEvents: prepare(messagesOfEventsSql('SELECT value FROM json_each({3})')),
    reject: prepare(REJECT_DELIVERED),
    deleteOverlapping: prepare(DELETE_OVERLAPPING_WINDOWS),
    upsertWindow: prepare(UPSERT_WINDOW),
    listWindows: prepare(LIST_WINDOWS),
    listRouteWindows: prepare(LIST_ROUTE_WINDOWS),
    startRun: prepare(START_RUN),
    finishRun: prepare(FINISH_RUN),
    forgetRuns: prepare(FORGET_RUNS),
    forgetWindows: prepare(FORGET_WINDOWS),
    latestRun: prepare(LATEST_RUN),
  };
  let lockHolder: string | undefined;

  const reject = db.transaction((items: { messageId: number; error: string }[], now: number) => {
    const moved = items.filter((item) => sql.reject.run(item.error, item.messageId).changes > 0);
    consoleSql.recordAttempts(moved.map((item) => rejectionAttempt(item.messageId, item.error, now)));
    return moved.length;
  });
  const save = db.transaction((w: { route: string; from: number; to: number; judgedAt: number; runId: string; report: string }) => {
    sql.deleteOverlapping.run(w.route, w.to, w.from, w.from);
    sql.upsertWindow.run(w.route, w.from, w.to, w.judgedAt, w.runId, w.report);
  });
  const finish = db.transaction((runId: string, at: number, forgetBefore: number) => {
    sql.finishRun.run(at, runId);
    sql.forgetRuns.run(runId);
    sql.forgetWindows.run(forgetBefore);
  });

  return {
    relayCounts({ route, from, to }) {
      const events = sql.eventCounts.get(route, from, to) as { accepted: number; held: number; unmapped: number } | undefined;
      return toRelayCounts(events, sql.messageCounts.all(route, from, to) as MessageCountRow[]);
    },
    messagesOfEvents({ route, kind, eventIds }) {
      if (eventIds.length === 0) return [];
      return (sql.ofEvents.all(route, kind, JSON.stringify(eventIds.map(withoutNul))) as AccountingMessageRow[]).map(toAccountingMessage);
    },
    profileMessagesOfCustomer({ route, customerId, from, to }) {
      return (sql.profiles.all(withoutNul(customerId), route, route, from, to) as AccountingMessageRow[]).map(toAccountingMessage);
    },
    rejectAfterAcceptance(items, now) {
      return reject(items.map((i) => ({ messageId: i.messageId, error: withoutNul(i.error) })), now);
    },
    saveAccountingWindow(window) {
      save({ ...window, runId: withoutNul(window.runId), report: withoutNul(window.report) });
    },
    listAccountingWindows({ route, from, to }) {
      const rows = (route === undefined ? sql.listWindows.all(to, from) : sql.listRouteWindows.all(route, to, from)) as WindowRow[];
      return rows.map(toWindowRecord);
    },
    startAccountingRun({ runId, startedAt, params }) {
      sql.startRun.run(withoutNul(runId), startedAt, withoutNul(params));
    },
    finishAccountingRun(runId, finishedAt, forgetBefore) {
      finish(runId, finishedAt, forgetBefore);
    },
    latestAccountingRun() {
      const row = sql.latestRun.get() as RunRow | undefined;
      return row ? toRun(row) : undefined;
    },
    acquireAccountingLock(owner) {
      if (lockHolder !== undefined && lockHolder !== owner) return false;
      lockHolder = owner;
      return true;
    },
    releaseAccountingLock(owner) {
      if (lockHolder === owner) lockHolder = undefined;
    },
  };
}
