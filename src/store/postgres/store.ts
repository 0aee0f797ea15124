import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../../errors.js';
import type { MessageKind } from '../../mapping/types.js';
import { cleanMapping, cleanNewEvent, cleanSettlements, withoutNul } from '../shared/text.js';
import { toDeadLetterView, toEventView, toStoredEvent, type EventRow, type MessageRow } from '../shared/views.js';
import { DEFAULT_ROUTE, type ClaimedMessage, type Store } from '../types.js';
import { clientHelpers, migrate, openPool, withTimeout } from './connection.js';
import { createPostgresAccounting } from './accounting.js';
import { createPostgresConsole, recordAttemptsPostgres } from './console.js';
import { createGroupCommit } from './group-commit.js';
import { createListener, WORK_CHANNEL } from './listener.js';
import { pruneInChunks, replayDeadChunk } from './long-jobs.js';
import { insertMessages, settleAll, SQL, type ClaimRow } from './sql.js';

export interface PostgresStoreOptions {
  connectionString: string;
  logger: Logger;
  /** Connections per replica (default 10). */
  poolSize?: number;
  /**
   * LISTEN/NOTIFY between replicas (default true). Needs a direct session (not a transaction-mode
   * pooler such as PgBouncer); when off, replicas find each other's work by polling.
   */
  notify?: boolean;
  /**
   * Bound on each query, webhook commits included (default 5,000 ms): the server cancels it then
   * (statement_timeout), and the client gives up 1 s later if the server cannot be reached at all
   * (a network blackhole: TCP keepalive cannot tell, the connection looks alive).
   */
  queryTimeoutMs?: number;
}

/** How long the readiness probe waits for PostgreSQL. */
const CHECK_TIMEOUT_MS = 2_000;
/** Advisory lock key for retention (see MIGRATION_LOCK_KEY in schema.ts for migrations). */
const PRUNE_LOCK_KEY = '7262117002';

/**
 * PostgreSQL store shared by several relay replicas: the same semantics as the SQLite store (the
 * contract suite runs against both). Deduplication, leases and the profile watermark rely on row
 * locks and ON CONFLICT, so replicas need no coordination of their own. Every failure to reach the
 * database surfaces as StoreUnavailableError (the webhook answers 503, /readyz fails); the pool and
 * the listening connection reconnect by themselves after a PostgreSQL restart.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { connectionString, logger } = options;
  const notify = options.notify ?? true;
  const queryTimeoutMs = options.queryTimeoutMs ?? 5_000;
  // Tags this replica's NOTIFYs so its own listener ignores them (local listeners are told directly).
  const instanceId = randomUUID();

  await migrate(connectionString, logger);
  const pool = openPool(connectionString, logger, { poolSize: options.poolSize, queryTimeoutMs });
  const { withClient, tx } = clientHelpers(pool);

  const work = new EventEmitter();
  const emitWork = () => {
    try {
      work.emit('work');
    } catch (error) {
      logger.error({ err: error }, 'onWork listener threw');
    }
  };
  const listener = notify ? createListener(connectionString, logger, instanceId, emitWork) : undefined;
  await listener?.start();

  let closed = false;
  let closing: Promise<void> | undefined;
  const flushes = new Set<Promise<void>>();


  // pg_notify inside the transaction is delivered at commit, and not at all on rollback.
  const notifyOthers = async (client: PoolClient) => {
    if (notify) await client.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, instanceId]);
  };

  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new StoreUnavailableError(new Error('store closed'));
    try {
      return await fn();
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    }
  };

  const { close: closeAccounting, ...accounting } = createPostgresAccounting(pool, { run, tx }, logger);

  const commits = createGroupCommit({ withClient, logger, emitWork, flushes, notifyPayload: notify ? { channel: WORK_CHANNEL, payload: instanceId } : undefined });

  return {
    backend: 'postgres',
    ...createPostgresConsole(pool, run),
    ...accounting,

    acceptEvent(input) {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')));
      return commits.enqueue(cleanNewEvent(input));
    },

    claimDue({ owner: dirtyOwner, now, leaseMs, limit, route }) {
      const owner = withoutNul(dirtyOwner);
      return run(async () => {
        const { rows } = await pool.query<ClaimRow>(SQL.claim, [now + leaseMs, owner, now, limit, route ?? null]);
        return rows
          .map(
            (row): ClaimedMessage => ({
              id: Number(row.id),
              eventId: row.event_id,
              kind: row.kind as MessageKind,
              body: row.body,
              attempts: row.attempts,
              acceptedAt: Number(row.accepted_at),
              ...(row.trace_parent ? { traceParent: row.trace_parent } : {}),
            }),
          )
          .sort((a, b) => a.id - b.id);
      });
    },

    settle(owner, settlements, now) {
      return run(async () => {
        if (settlements.length === 0) return;
        // The UPDATE is one statement (deliveries' attempts on their rows); the console's log of the
        // other attempts (issue 14) adds its own two when there are any.
        await tx(async (client) => {
          const deliveredOnRow = await settleAll(client, withoutNul(owner), cleanSettlements(settlements), now);
          await recordAttemptsPostgres(client, settlements.filter((s) => !(s.outcome === 'delivered' && deliveredOnRow.has(s.id))));
        });
      });
    },

    makeDueNow(reasons, now) {
      return run(async () => {
        const changes = await tx(async (client) => {
          const n = (await client.query(SQL.makeDueNow, [now, reasons])).rowCount ?? 0;
          if (n > 0) await notifyOthers(client);
          return n;
        });
        if (changes > 0) emitWork();
        return changes;
      });
    },

    nextDueAt(route) {
      return run(async () => {
        const { rows } = await pool.query<{ at: string | null }>(SQL.nextDue, [route ?? null]);
        const at = rows[0]?.at ?? null;
        return at === null ? undefined : Number(at);
      });
    },

    getEvent(id) {
      const eventId = withoutNul(id);
      return run(async () => {
        const event = await pool.query<EventRow>('SELECT * FROM events WHERE event_id = $1', [eventId]);
        const row = event.rows[0];
        if (!row) return undefined;
        const messages = await pool.query<MessageRow>(SQL.eventMessages, [eventId]);
        return toEventView(row, messages.rows);
      });
    },

    listDeadLetters({ limit, afterId, route }) {
      return run(async () => {
        const { rows } = await pool.query<MessageRow>(SQL.deadLetters, [afterId ?? 0, limit, route ?? null]);
        return rows.map(toDeadLetterView);
      });
    },

    replayDeadLetters(ids, now) {
      return run(async () => {
        if (ids === 'all') {
          // A chunk per transaction: no statement holds every dead row locked at once (issue 12).
          let changes = 0;
          for (let after = 0; !closed; ) {
            const chunk = await tx(async (client) => {
              const done = await replayDeadChunk(client, after, now);
              if (done.replayed > 0) await notifyOthers(client);
              return done;
            });
            changes += chunk.replayed;
            if (chunk.replayed > 0) emitWork();
            if (chunk.last === undefined) break;
            after = chunk.last;
          }
          return changes;
        }
        const changes = await tx(async (client) => {
          await client.query(SQL.skipSupersededDead, [now, ids]);
          const n = (await client.query(SQL.replayDead, [now, ids])).rowCount ?? 0;
          if (n > 0) await notifyOthers(client);
          return n;
        });
        if (changes > 0) emitWork();
        return changes;
      });
    },

    listEventsForReplay({ mappingStatus, route, eventIds, limit, afterEventId }) {
      return run(async () => {
        if (eventIds) {
          const { rows } = await pool.query<EventRow>('SELECT * FROM events WHERE event_id = ANY($1::text[])', [eventIds.map(withoutNul)]);
          const byId = new Map(rows.map((row) => [row.event_id, row]));
          return eventIds.flatMap((id) => {
            const row = byId.get(withoutNul(id));
            return row ? [toStoredEvent(row)] : [];
          });
        }
        const { rows } = mappingStatus
          ? await pool.query<EventRow>(SQL.eventsByStatus, [mappingStatus, withoutNul(afterEventId ?? ''), limit, route ?? null])
          : await pool.query<EventRow>(SQL.eventsAll, [withoutNul(afterEventId ?? ''), limit, route ?? null]);
        return rows.map(toStoredEvent);
      });
    },

    replaceMessages(id, dirtyMapping, now) {
      const eventId = withoutNul(id);
      const mapping = cleanMapping(dirtyMapping);
      return run(async () => {
        const replaced = await tx(async (client) => {
          // Lock the event (serializes replays of it) and its messages (claimers skip locked rows).
          const event = await client.query<{ route: string | null }>('SELECT route FROM events WHERE event_id = $1 FOR UPDATE', [eventId]);
          // The messages go to the event's own route, whoever asks for the replay.
          const route = event.rows[0]?.route ?? DEFAULT_ROUTE;
          const { rows } = await client.query<{ state: string; next_attempt_at: string }>(
            'SELECT state, next_attempt_at FROM messages WHERE event_id = $1 FOR UPDATE',
            [eventId],
          );
          if (rows.some((m) => m.state === 'in_flight' && Number(m.next_attempt_at) > now)) return false;
          await client.query(SQL.deleteUndelivered, [eventId]);
          await client.query('UPDATE events SET mapping_status = $1 WHERE event_id = $2', [mapping.status, eventId]);
          await insertMessages(client, eventId, route, mapping, now);
          await notifyOthers(client);
          return true;
        });
        if (replaced) emitWork();
        return replaced;
      });
    },

    queueStats(now) {
      return run(async () => {
        const { rows } = await pool.query<{ pending: string; oldest: string | null; dead: string }>(SQL.queueStats);
        const row = rows[0]!;
        return {
          pending: Number(row.pending),
          oldestPendingAgeMs: row.oldest === null ? 0 : Math.max(0, now - Number(row.oldest)),
          deadLetters: Number(row.dead),
        };
      });
    },

    prune(olderThan) {
      return run(() =>
        withClient(async (client) => {
          // Every replica runs retention: one prunes at a time, the others find the lock taken and skip.
          // A session lock, held across the chunks (each its own short transaction, within the
          // hot path's statement timeout); released below, or by PostgreSQL if the connection drops.
          const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [PRUNE_LOCK_KEY]);
          if (!rows[0]?.locked) return { events: 0, messages: 0 };
          try {
            return await pruneInChunks(client, olderThan, () => closed);
          } finally {
            await client.query('SELECT pg_advisory_unlock($1::bigint)', [PRUNE_LOCK_KEY]);
          }
        }),
      );
    },

    checkWritable() {
      return run(() =>
        withTimeout(
          CHECK_TIMEOUT_MS,
          withClient(async (client) => {
            const { rows } = await client.query<{ recovery: boolean; read_only: string }>(
              `SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS read_only`,
            );
            const row = rows[0];
            if (!row || row.recovery || row.read_only === 'on') throw new Error('PostgreSQL accepts no writes (standby or read-only)');
          }),
        ),
      );
    },

    onWork(fn) {
      work.on('work', fn);
      return () => work.off('work', fn);
    },

    close() {
      closing ??= (async () => {
        closed = true;
        // Events already queued were promised an answer: commit them before the pool goes.
        commits.flush();
        await Promise.allSettled([...flushes]);
        await closeAccounting();
        await listener?.stop();
        work.removeAllListeners();
        await pool.end().catch((error: unknown) => logger.warn({ err: error }, 'closing the PostgreSQL pool failed'));
      })();
      return closing;
    },
  };
}
