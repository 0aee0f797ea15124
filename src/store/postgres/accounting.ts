import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
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
import { recordAttemptsPostgres } from './console.js';
import { ACCOUNTING_LOCK_KEY } from './schema.js';

const pg = (text: string) => placeholders(text, 'postgres');
const SQL = {
  eventCounts: pg(EVENT_COUNTS),
  messageCounts: pg(MESSAGE_COUNTS),
  profiles: pg(PROFILES_OF_CUSTOMER),
  ofEvents: pg(messagesOfEventsSql('SELECT unnest({3}::text[])')),
  reject: pg(REJECT_DELIVERED),
  deleteOverlapping: pg(DELETE_OVERLAPPING_WINDOWS),
  upsertWindow: pg(UPSERT_WINDOW),
  listWindows: pg(LIST_WINDOWS),
  listRouteWindows: pg(LIST_ROUTE_WINDOWS),
  startRun: pg(START_RUN),
  finishRun: pg(FINISH_RUN),
  forgetRuns: pg(FORGET_RUNS),
  forgetWindows: pg(FORGET_WINDOWS),
  latestRun: pg(LATEST_RUN),
};

/**
 * The PostgreSQL side of accounting (issue 17). The job's lock is a session advisory lock on a
 * connection of its own, held for the whole run: replicas sharing the database run the job one at a
 * time, and a replica killed mid-run lets go of it with its connection (as prune's lock).
 * `run` maps failures to StoreUnavailableError as the store does; `close` lets go of a held lock.
 */
export function createPostgresAccounting(
  pool: Pool,
  helpers: { run: <T>(fn: () => Promise<T>) => Promise<T>; tx: <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T> },
  logger: Logger,
): AccountingQueries & { close(): Promise<void> } {
  const { run, tx } = helpers;
  let held: { owner: string; client: PoolClient } | undefined;

  const unlock = async (lock: { client: PoolClient }) => {
    try {
      await lock.client.query('SELECT pg_advisory_unlock($1::bigint)', [ACCOUNTING_LOCK_KEY]);
      lock.client.release();
    } catch (error) {
      // The connection is gone (and the lock with it), or in an unknown state: discard it.
      lock.client.release(error instanceof Error ? error : new Error(String(error)));
    }
  };

  return {
    relayCounts({ route, from, to }) {
      return run(async () => {
        const [events, messages] = await Promise.all([
          pool.query<{ accepted: string; held: string; unmapped: string }>(SQL.eventCounts, [route, from, to]),
          pool.query<MessageCountRow>(SQL.messageCounts, [route, from, to]),
        ]);
        return toRelayCounts(events.rows[0], messages.rows);
      });
    },
    messagesOfEvents({ route, kind, eventIds }) {
      return run(async () => (eventIds.length === 0 ? [] : (await pool.query<AccountingMessageRow>(SQL.ofEvents, [route, kind, eventIds.map(withoutNul)])).rows.map(toAccountingMessage)));
    },
    profileMessagesOfCustomer({ route, customerId, from, to }) {
      return run(async () => (await pool.query<AccountingMessageRow>(SQL.profiles, [withoutNul(customerId), route, route, from, to])).rows.map(toAccountingMessage));
    },
    rejectAfterAcceptance(items, now) {
      return run(() =>
        tx(async (client) => {
          const moved: { messageId: number; error: string }[] = [];
          for (const item of items) {
            const error = withoutNul(item.error);
            if (((await client.query(SQL.reject, [error, item.messageId])).rowCount ?? 0) > 0) moved.push({ messageId: item.messageId, error });
          }
          await recordAttemptsPostgres(client, moved.map((m) => rejectionAttempt(m.messageId, m.error, now)));
          return moved.length;
        }),
      );
    },
    saveAccountingWindow(w) {
      return run(() =>
        tx(async (client) => {
          await client.query(SQL.deleteOverlapping, [w.route, w.to, w.from, w.from]);
          await client.query(SQL.upsertWindow, [w.route, w.from, w.to, w.judgedAt, withoutNul(w.runId), withoutNul(w.report)]);
        }),
      );
    },
    listAccountingWindows({ route, from, to }) {
      return run(async () => {
        const { rows } = route === undefined ? await pool.query<WindowRow>(SQL.listWindows, [to, from]) : await pool.query<WindowRow>(SQL.listRouteWindows, [route, to, from]);
        return rows.map(toWindowRecord);
      });
    },
    startAccountingRun({ runId, startedAt, params }) {
      return run(async () => {
        await pool.query(SQL.startRun, [withoutNul(runId), startedAt, withoutNul(params)]);
      });
    },
    finishAccountingRun(runId, finishedAt, forgetBefore) {
      return run(() =>
        tx(async (client) => {
          await client.query(SQL.finishRun, [finishedAt, runId]);
          await client.query(SQL.forgetRuns, [runId]);
          await client.query(SQL.forgetWindows, [forgetBefore]);
        }),
      );
    },
    latestAccountingRun() {
      return run(async () => {
        const row = (await pool.query<RunRow>(SQL.latestRun)).rows[0];
        return row ? toRun(row) : undefined;
      });
    },
    acquireAccountingLock(owner) {
      return run(async () => {
        if (held) return held.owner === owner;
        const client = await pool.connect();
        try {
          const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [ACCOUNTING_LOCK_KEY]);
          if (!rows[0]?.locked) {
            client.release();
            return false;
          }
        } catch (error) {
          client.release(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
        held = { owner, client };
        // Lost with its connection (a PostgreSQL restart): the lock is gone, so is our claim to it.
        client.once('error', () => {
          if (held?.client === client) held = undefined;
          logger.warn('the accounting lock was lost with its PostgreSQL connection');
        });
        return true;
      });
    },
    releaseAccountingLock(owner) {
      return run(async () => {
        const lock = held;
        if (!lock || lock.owner !== owner) return;
        held = undefined;
        await unlock(lock);
      });
    },
    async close() {
      const lock = held;
      held = undefined;
      if (lock) await unlock(lock);
    },
  };
}
