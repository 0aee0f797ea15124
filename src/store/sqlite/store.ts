import { mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../errors.js';
import type { MappingResult, MessageKind, QueuedMessage } from '../../mapping/types.js';
import { messageBody } from '../shared/message-body.js';
import { SQLITE_MIGRATIONS } from './schema.js';
import { createCommitQueue, type PendingAccept } from '../shared/commit-queue.js';
import { startCheckpointer, WAL_LIMIT_BYTES } from './checkpointer.js';
import { capDatabaseSize, roomUnderCap } from './size-cap.js';
import { createSpaceGuard, cutWalBack } from './space-guard.js';
import { cleanMapping, cleanNewEvent, cleanSettlements, withoutNul } from '../shared/text.js';
import { DEFAULT_ROUTE, type AcceptResult, type ClaimedMessage, type Settlement, type Store } from '../types.js';
import { customerIdOfEvent } from '../shared/console-rows.js';
import { createSqliteConsole } from './console.js';
import { createSqliteLongJobs, SUPERSEDED } from './long-jobs.js';
import { createTurnBatch } from './turn-batch.js';
import { toDeadLetterView, toEventView, toStoredEvent, type EventRow, type MessageRow } from '../shared/views.js';

/**
 * Free space the store wants on its filesystem to report ready: room for the WAL to grow to its
 * bound and be checkpointed into the database file (README "Disk space"). The same room is wanted
 * under a size cap (STORE_MAX_SIZE_MB), so readiness fails before commits do.
 */
export const MIN_FREE_BYTES = 2 * 1024 * 1024;

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for throwaway unit tests. */
  path: string;
  /**
   * 'full': a commit survives power loss (the WAL is fsynced on every commit).
   * 'normal': a commit survives a process crash (kill -9), not a power cut. See README "Durability".
   */
  synchronous: 'full' | 'normal';
  /** How often the checkpoint thread checkpoints the WAL (default 1 s; 0: no thread, SQLite checkpoints in commits). */
  checkpointIntervalMs?: number;
  onCheckpointFailure?: (detail: string) => void;
  /** STORE_MAX_SIZE_MB in bytes: past it commits fail with SQLITE_FULL (size-cap.ts). Unset: no cap. */
  maxSizeBytes?: number;
}

/**
 * SQLite store for one relay process. better-sqlite3 is synchronous; webhook commits arriving in
 * the same event-loop turn share one transaction (group commit, see commit-queue.ts).
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
  // A WAL rewound after a checkpoint is cut back to this size rather than kept at its peak.
  db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
  const maxPageCount = options.maxSizeBytes === undefined ? undefined : capDatabaseSize(db, options.maxSizeBytes);
  migrate(db);
  // Outside the migrations: scratch space for the readiness probe, never read.
  db.exec('CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)');
  // Checkpoints run on their own thread (checkpointer.ts); SQLite's own stays as a safety net.
  const checkpointer =
    options.path === ':memory:' || options.checkpointIntervalMs === 0
      ? undefined
      : startCheckpointer(options.path, { intervalMs: options.checkpointIntervalMs ?? 1000, walLimitBytes: WAL_LIMIT_BYTES, ...(maxPageCount ? { maxPageCount } : {}) }, (detail) => {
          options.onCheckpointFailure?.(detail);
        });
  if (checkpointer) db.pragma('wal_autocheckpoint = 10000');

  const work = new EventEmitter();
  const sql = prepareStatements(db);
  const consoleSql = createSqliteConsole(db);
  let closed = false;
  /** Why the last write failed (SQLITE_FULL, SQLITE_IOERR...), until a write succeeds again. */
  let writeFailure: string | undefined;
  const noteWrite = <T>(fn: () => T): T => {
    try {
      const result = fn();
      writeFailure = undefined;
      return result;
    } catch (error) {
      writeFailure = (error as { code?: string }).code ?? 'write failed';
      throw error;
    }
  };

  const insertMessages = (eventId: string, route: string, mapping: MappingResult<QueuedMessage>, now: number): number => {
    let skipped = 0;
    for (const out of mapping.messages) {
      let state: 'pending' | 'skipped' = 'pending';
      // A profile record without a trustworthy source time is sent, and leaves the watermark alone.
      if (out.kind === 'profile' && out.profileKey !== undefined && out.sourceCreatedAt !== null) {
        const newest = sql.watermark.get(out.profileKey) as { newest_created_at: number } | undefined;
        if (newest && newest.newest_created_at > out.sourceCreatedAt) state = 'skipped';
        else sql.upsertWatermark.run(out.profileKey, out.sourceCreatedAt);
      }
      if (state === 'skipped') skipped += 1;
      sql.insertMessage.run({
        event_id: eventId,
        kind: out.kind,
        body: messageBody(out),
        route,
        state,
        next_attempt_at: now,
        accepted_at: now,
        dead_reason: state === 'skipped' ? 'superseded_by_newer_profile' : null,
        profile_key: out.profileKey ?? null,
        source_created_at: out.sourceCreatedAt,
      });
    }
    return skipped;
  };

  const commitGroup = db.transaction((group: PendingAccept[]): AcceptResult[] =>
    group.map(({ input }) => {
      const { event } = input;
      const inserted = sql.insertEvent.run(
        event.eventId, event.eventName, event.envelope, event.createdAt ?? null, event.receivedAt, input.held ? 'held' : input.mapping.status, input.payload, input.traceParent ?? null, input.customerId !== undefined ? input.customerId : customerIdOfEvent(event), input.route ?? null,
      );
      if (inserted.changes === 0) return { outcome: 'duplicate' };
      if (input.held) return { outcome: 'accepted', skippedProfiles: 0 };
      return { outcome: 'accepted', skippedProfiles: insertMessages(event.eventId, input.route ?? DEFAULT_ROUTE, input.mapping, event.receivedAt) };
    }),
  );

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

  /**
   * Claims and settlements skip the fsync even in 'full' mode. Losing one to a power cut is
   * harmless: a lost claim simply was not made, a lost settlement means one more delivery of the
   * same message (at-least-once, same `_id`). The WAL is written in order, so the next webhook
   * commit's fsync makes them durable too. This halves the fsyncs on the event loop under load.
   */
  const withoutFsync = <T>(fn: () => T): T => {
    if (options.synchronous === 'normal') return fn();
    db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      db.pragma('synchronous = FULL');
    }
  };

  const settleAll = db.transaction((owner: string, settlements: Settlement[], now: number) => {
    for (const s of settlements) {
      if (s.outcome === 'delivered') sql.settleDelivered.run(now, s.id, owner);
      else if (s.outcome === 'retry') sql.settleRetry.run(s.nextAttemptAt, s.error, s.id, owner);
      else if (s.outcome === 'release') sql.release.run(s.nextAttemptAt, s.id, owner);
      else sql.settleDead.run(s.reason, s.error, now, s.id, owner);
    }
    consoleSql.recordAttempts(settlements);
  });

  const claim = db.transaction((owner: string, now: number, leaseUntil: number, limit: number, route: string | undefined) =>
    (route === undefined ? sql.claim.all(leaseUntil, owner, now, limit) : sql.claimRoute.all(leaseUntil, owner, route, now, limit)) as ClaimRow[],
  );

  const replaceOne = (eventId: string, mapping: MappingResult<QueuedMessage>, now: number): boolean => {
    const busy = sql.countInFlight.get(eventId, now) as { n: number };
    if (busy.n > 0) return false;
    sql.deleteUndelivered.run(eventId);
    sql.setMappingStatus.run(mapping.status, eventId);
    // The messages go to the event's own route, whoever asks for the replay.
    const route = (sql.eventRoute.get(eventId) as { route: string | null } | undefined)?.route ?? DEFAULT_ROUTE;
    insertMessages(eventId, route, mapping, now);
    return true;
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

  // A dead profile record whose member has a newer record queued since would overwrite newer state
  // in AEP if sent now: it is skipped, as at retry time, and not counted as replayed.
  const replayDead = db.transaction((ids: number[], now: number): number =>
    ids.reduce((n, id) => {
      sql.skipSupersededDead.run(now, id);
      return n + sql.replayDead.run(now, id).changes;
    }, 0),
  );
  const longJobs = createSqliteLongJobs(db, () => closed, { withoutFsync });

  const consoleQuery = <K extends keyof typeof consoleSql.queries>(name: K) =>
    ((...args: unknown[]) => guard(() => (consoleSql.queries[name] as (...a: unknown[]) => unknown)(...args))) as unknown as Store[K];

  return {
    backend: 'sqlite',
    searchEvents: consoleQuery('searchEvents'),
    listAttempts: consoleQuery('listAttempts'),
    deadLetterGroups: consoleQuery('deadLetterGroups'),
    listDeadLettersFiltered: consoleQuery('listDeadLettersFiltered'),
    countDeadLetters: consoleQuery('countDeadLetters'),
    activity: consoleQuery('activity'),

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
      return guard(() => {
        // A disk that is as good as full fails readiness before commits start failing, and keeps
        // failing it until the store has room to work again (a tiny probe commit fits long before).
        if (options.path !== ':memory:') {
          const fs = statfsSync(dirname(options.path));
          const free = fs.bavail * fs.bsize;
          if (free < MIN_FREE_BYTES) {
            throw Object.assign(new Error(`${free} bytes free next to the database; at least ${MIN_FREE_BYTES} needed`), { code: 'SQLITE_FULL' });
          }
        }
        // Under the cap the probe below would pass while batches fail: one small row fits in a page
        // the table already has. So the room left is checked as the disk's is.
        if (maxPageCount !== undefined) {
          const room = roomUnderCap(db);
          if (room < MIN_FREE_BYTES) {
            throw Object.assign(new Error(`${room} bytes left under STORE_MAX_SIZE_MB; at least ${MIN_FREE_BYTES} needed`), { code: 'SQLITE_FULL' });
          }
        }
        if (writeFailure === undefined) {
          // BEGIN IMMEDIATE takes the write lock: proves the file is writable without changing it.
          db.prepare('BEGIN IMMEDIATE').run();
          db.prepare('ROLLBACK').run();
          return;
        }
        // The last commit failed (a full disk, an I/O error): only a real commit can tell when
        // it would succeed again. One small row: it needs a page of WAL, not the space a batch does.
        // First give back what the WAL holds past its bound, if it can be checkpointed now.
        if (options.path !== ':memory:') cutWalBack(db, options.path);
        noteWrite(() => sql.probe.run(Date.now()));
      });
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

interface ClaimRow {
  id: number;
  event_id: string;
  kind: string;
  body: string;
  attempts: number;
  accepted_at: number;
  trace_parent: string | null;
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < SQLITE_MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      `INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, trace_parent, customer_id, route)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    insertMessage: db.prepare(
      `INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at, dead_reason, profile_key, source_created_at, route)
       VALUES (@event_id, @kind, @body, @state, @next_attempt_at, @accepted_at, @dead_reason, @profile_key, @source_created_at, @route)`,
    ),
    watermark: db.prepare('SELECT newest_created_at FROM profile_watermarks WHERE profile_key = ?'),
    upsertWatermark: db.prepare(
      `INSERT INTO profile_watermarks (profile_key, newest_created_at) VALUES (?, ?)
       ON CONFLICT (profile_key) DO UPDATE SET newest_created_at = max(newest_created_at, excluded.newest_created_at)`,
    ),
    claim: db.prepare(
      `UPDATE messages SET state = 'in_flight', next_attempt_at = ?, lease_owner = ?
       WHERE id IN (SELECT id FROM messages WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, event_id, kind, body, attempts, accepted_at,
                 (SELECT trace_parent FROM events e WHERE e.event_id = messages.event_id) AS trace_parent`,
    ),
    claimRoute: db.prepare(
      `UPDATE messages SET state = 'in_flight', next_attempt_at = ?, lease_owner = ?
       WHERE id IN (SELECT id FROM messages WHERE route = ? AND state IN ('pending', 'in_flight') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, event_id, kind, body, attempts, accepted_at,
                 (SELECT trace_parent FROM events e WHERE e.event_id = messages.event_id) AS trace_parent`,
    ),
    nextDueRoute: db.prepare(`SELECT min(next_attempt_at) AS at FROM messages WHERE route = ? AND state IN ('pending', 'in_flight')`),
    deadLettersRoute: db.prepare(`SELECT * FROM messages WHERE state = 'dead' AND route = ? AND id > ? ORDER BY id LIMIT ?`),
    eventsByStatusRoute: db.prepare(`SELECT * FROM events WHERE mapping_status = ? AND coalesce(route, 'default') = ? AND event_id > ? ORDER BY event_id LIMIT ?`),
    eventsAllRoute: db.prepare(`SELECT * FROM events WHERE coalesce(route, 'default') = ? AND event_id > ? ORDER BY event_id LIMIT ?`),
    eventRoute: db.prepare('SELECT route FROM events WHERE event_id = ?'),
    settleDelivered: db.prepare(
      `UPDATE messages SET state = 'delivered', attempts = attempts + 1, settled_at = ?, lease_owner = NULL, last_error = NULL
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    // A profile record whose retry comes after a newer record for the same member was queued would
    // overwrite newer state in AEP: it is skipped instead (the out-of-order guard, at retry time).
    settleRetry: db.prepare(
      `UPDATE messages SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_owner = NULL,
         state = CASE WHEN ${SUPERSEDED} THEN 'skipped' ELSE 'pending' END,
         dead_reason = CASE WHEN ${SUPERSEDED} THEN 'superseded_by_newer_profile' ELSE dead_reason END
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    release: db.prepare(
      `UPDATE messages SET state = 'pending', next_attempt_at = ?, lease_owner = NULL WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    settleDead: db.prepare(
      `UPDATE messages SET state = 'dead', attempts = attempts + 1, dead_reason = ?, last_error = ?, settled_at = ?, lease_owner = NULL
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    makeDueNow: db.prepare(
      `UPDATE messages SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?
         AND substr(last_error, 1, instr(last_error, ':') - 1) IN (SELECT value FROM json_each(?))`,
    ),
    nextDue: db.prepare(`SELECT min(next_attempt_at) AS at FROM messages WHERE state IN ('pending', 'in_flight')`),
    getEvent: db.prepare('SELECT * FROM events WHERE event_id = ?'),
    eventMessages: db.prepare('SELECT * FROM messages WHERE event_id = ? ORDER BY id'),
    deadLetters: db.prepare(`SELECT * FROM messages WHERE state = 'dead' AND id > ? ORDER BY id LIMIT ?`),
    skipSupersededDead: db.prepare(
      `UPDATE messages SET state = 'skipped', dead_reason = 'superseded_by_newer_profile', settled_at = ? WHERE state = 'dead' AND id = ? AND ${SUPERSEDED}`,
    ),
    replayDead: db.prepare(
      `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = ?, dead_reason = NULL, settled_at = NULL WHERE state = 'dead' AND id = ?`,
    ),
    eventsByStatus: db.prepare('SELECT * FROM events WHERE mapping_status = ? AND event_id > ? ORDER BY event_id LIMIT ?'),
    eventsAll: db.prepare('SELECT * FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?'),
    countInFlight: db.prepare(`SELECT count(*) AS n FROM messages WHERE event_id = ? AND state = 'in_flight' AND next_attempt_at > ?`),
    deleteUndelivered: db.prepare(`DELETE FROM messages WHERE event_id = ? AND state IN ('pending', 'in_flight', 'dead', 'skipped')`),
    setMappingStatus: db.prepare('UPDATE events SET mapping_status = ? WHERE event_id = ?'),
    pendingStats: db.prepare(
      `SELECT count(*) AS n, min(accepted_at) AS oldest FROM messages WHERE state IN ('pending', 'in_flight')`,
    ),
    probe: db.prepare('INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at'),
    deadCount: db.prepare(`SELECT count(*) AS n FROM messages WHERE state = 'dead'`),
  };
}
