import { EventEmitter } from 'node:events';
import { StoreUnavailableError } from '../../errors.js';
import type { MappingResult, MessageKind, QueuedMessage } from '../../mapping/types.js';
import { createCommitQueue } from '../shared/commit-queue.js';
import { cleanMapping, cleanNewEvent, cleanSettlements, withoutNul } from '../shared/text.js';
import { toDeadLetterView, toEventView, toStoredEvent, type EventRow, type MessageRow } from '../shared/views.js';
import type { AcceptResult, ClaimedMessage, Store } from '../types.js';
import { createSqliteAccounting } from './accounting.js';
import { createSqliteConsole } from './console.js';
import { createSqliteLongJobs } from './long-jobs.js';
import { openSqliteDatabase, type SqliteStoreOptions } from './open.js';
import { roomUnderCap } from './size-cap.js';
import { createSpaceGuard } from './space-guard.js';
import { prepareStatements } from './statements.js';
import { createSqliteTransactions } from './transactions.js';
import { createTurnBatch } from './turn-batch.js';
import { createWriteHealth } from './write-health.js';

export type { SqliteStoreOptions } from './open.js';

/**
 * SQLite store for one relay process. better-sqlite3 is synchronous; webhook commits arriving in
 * the same event-loop turn share one transaction (group commit, see ../shared/commit-queue.ts).
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const { db, maxPageCount, checkpointer } = openSqliteDatabase(options);

  const work = new EventEmitter();
  const sql = prepareStatements(db);
  const consoleSql = createSqliteConsole(db);
  const { commitGroup, withoutFsync, settleAll, claim, replaceOne, replayDead } = createSqliteTransactions(db, sql, consoleSql, options.synchronous);
  const health = createWriteHealth(db, sql, options.path, maxPageCount);
  const { noteWrite } = health;
  let closed = false;

  const space = createSpaceGuard(db, options.path, maxPageCount === undefined ? undefined : () => roomUnderCap(db));
  const commits = createCommitQueue((group) => {
    let results: AcceptResult[];
    try {
      space.beforeCommit();
      results = noteWrite(() => commitGroup(group));
    } catch (error) {
      for (const pending of group) pending.reject(new StoreUnavailableError(error));
      return;
    }
    group.forEach((pending, i) => pending.resolve(results[i]!));
    if (results.some((r) => r.outcome === 'accepted')) work.emit('work');
  });

  const guard = <T>(fn: () => T): Promise<T> => {
    if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(new StoreUnavailableError(error));
    }
  };
  /** `guard` for a job of several chunks (long-jobs), each committed as it goes. */
  const guardChunks = <T>(job: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')));
    return job().catch((error: unknown) => {
      throw new StoreUnavailableError(error);
    });
  };

  // Replays asked for in the same turn (a chunk of an event replay) share one transaction.
  const replaces = createTurnBatch((items: { eventId: string; mapping: MappingResult<QueuedMessage>; now: number }[]) => {
    let replaced: boolean[];
    try {
      replaced = noteWrite(() => db.transaction(() => items.map((r) => replaceOne(r.eventId, r.mapping, r.now))).immediate());
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
    if (replaced.some(Boolean)) work.emit('work');
    return replaced;
  });

  const longJobs = createSqliteLongJobs(db, () => closed);

  const consoleQuery = <K extends keyof typeof consoleSql.queries>(name: K) =>
    ((...args: unknown[]) => guard(() => (consoleSql.queries[name] as (...a: unknown[]) => unknown)(...args))) as unknown as Store[K];

  // Accounting (issue 17): reads, and the job's few writes (noted, so a failing disk shows in readiness).
  const accountingSql = createSqliteAccounting(db, consoleSql);
  const accounting = <K extends keyof typeof accountingSql>(name: K, write = false) =>
    ((...args: unknown[]) => guard(() => {
      const call = () => (accountingSql[name] as (...a: unknown[]) => unknown)(...args);
      return write ? noteWrite(call) : call();
    })) as unknown as Store[K];

  return {
    backend: 'sqlite',
    searchEvents: consoleQuery('searchEvents'),
    listAttempts: consoleQuery('listAttempts'),
    deadLetterGroups: consoleQuery('deadLetterGroups'),
    listDeadLettersFiltered: consoleQuery('listDeadLettersFiltered'),
    countDeadLetters: consoleQuery('countDeadLetters'),
    activity: consoleQuery('activity'),
    relayCounts: accounting('relayCounts'),
    messagesOfEvents: accounting('messagesOfEvents'),
    profileMessagesOfCustomer: accounting('profileMessagesOfCustomer'),
    rejectAfterAcceptance: accounting('rejectAfterAcceptance', true),
    saveAccountingWindow: accounting('saveAccountingWindow', true),
    listAccountingWindows: accounting('listAccountingWindows'),
    startAccountingRun: accounting('startAccountingRun', true),
    finishAccountingRun: accounting('finishAccountingRun', true),
    latestAccountingRun: accounting('latestAccountingRun'),
    acquireAccountingLock: accounting('acquireAccountingLock'),
    releaseAccountingLock: accounting('releaseAccountingLock'),

    acceptEvent(input) {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')));
      return commits.enqueue(cleanNewEvent(input));
    },

    claimDue({ owner: dirtyOwner, now, leaseMs, limit, route }) {
      const owner = withoutNul(dirtyOwner);
      return guard(() =>
        withoutFsync(() => claim(owner, now, now + leaseMs, limit, route))
          .map(
            (row): ClaimedMessage => ({
              id: row.id,
              eventId: row.event_id,
              kind: row.kind as MessageKind,
              body: row.body,
              attempts: row.attempts,
              acceptedAt: row.accepted_at,
              ...(row.trace_parent ? { traceParent: row.trace_parent } : {}),
            }),
          )
          .sort((a, b) => a.id - b.id),
      );
    },

    settle(owner, settlements, now) {
      return guard(() => withoutFsync(() => settleAll(withoutNul(owner), cleanSettlements(settlements), now)));
    },

    makeDueNow(reasons, now) {
      return guard(() => {
        const changes = withoutFsync(() => sql.makeDueNow.run(now, now, JSON.stringify(reasons)).changes);
        if (changes > 0) work.emit('work');
        return changes;
      });
    },

    nextDueAt(route) {
      return guard(() => ((route === undefined ? sql.nextDue.get() : sql.nextDueRoute.get(route)) as { at: number | null }).at ?? undefined);
    },

    getEvent(eventId) {
      return guard(() => {
        const row = sql.getEvent.get(withoutNul(eventId)) as EventRow | undefined;
        return row ? toEventView(row, sql.eventMessages.all(row.event_id) as MessageRow[]) : undefined;
      });
    },

    listDeadLetters({ limit, afterId, route }) {
      return guard(() =>
        ((route === undefined ? sql.deadLetters.all(afterId ?? 0, limit) : sql.deadLettersRoute.all(route, afterId ?? 0, limit)) as MessageRow[]).map(toDeadLetterView),
      );
    },

    replayDeadLetters(ids, now) {
      if (ids === 'all') {
        // Each chunk's messages are due now: the delivery worker hears of them as they commit.
        return guardChunks(() => longJobs.replayAllDead(now, () => work.emit('work')));
      }
      return guard(() => {
        const changes = replayDead(ids, now);
        if (changes > 0) work.emit('work');
        return changes;
      });
    },

    listEventsForReplay({ mappingStatus, route, eventIds, limit, afterEventId }) {
      return guard(() => {
        if (eventIds) {
          return eventIds
            .map((id) => sql.getEvent.get(withoutNul(id)) as EventRow | undefined)
            .filter((row): row is EventRow => row !== undefined)
            .map(toStoredEvent);
        }
        const after = withoutNul(afterEventId ?? '');
        const rows = (
          mappingStatus
            ? route === undefined
              ? sql.eventsByStatus.all(mappingStatus, after, limit)
              : sql.eventsByStatusRoute.all(mappingStatus, route, after, limit)
            : route === undefined
              ? sql.eventsAll.all(after, limit)
              : sql.eventsAllRoute.all(route, after, limit)
        ) as EventRow[];
        return rows.map(toStoredEvent);
      });
    },

    replaceMessages(eventId, mapping, now) {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')));
      return replaces.add({ eventId: withoutNul(eventId), mapping: cleanMapping(mapping), now });
    },

    queueStats(now) {
      return guard(() => {
        const pending = sql.pendingStats.get() as { n: number; oldest: number | null };
        const dead = sql.deadCount.get() as { n: number };
        return {
          pending: pending.n,
          oldestPendingAgeMs: pending.oldest === null ? 0 : Math.max(0, now - pending.oldest),
          deadLetters: dead.n,
        };
      });
    },

    prune(olderThan) {
      return guardChunks(() => longJobs.prune(olderThan));
    },

    checkWritable() {
      return guard(() => health.check());
    },

    onWork(listener) {
      work.on('work', listener);
      return () => work.off('work', listener);
    },

    async close() {
      if (closed) return;
      commits.flush();
      replaces.flush();
      closed = true;
      work.removeAllListeners();
      await checkpointer?.stop();
      db.close();
    },
  };
}
