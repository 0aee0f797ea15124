import pg from 'pg';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../../errors.js';
import { migratePostgres } from './schema.js';

/**
 * The PostgreSQL store's connections: the pool, with bounds on a hung server or a lost network, a
 * client per call, transactions, and the migration on a connection of its own.
 */
export function openPool(connectionString: string, logger: Logger, options: { poolSize: number | undefined; queryTimeoutMs: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    application_name: 'capillary-aep-relay',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // Bounds on a hung server or a lost network: the caller gets StoreUnavailableError, not a hang.
    statement_timeout: options.queryTimeoutMs,
    query_timeout: options.queryTimeoutMs + 1_000,
    // A replica that stalls mid-transaction must not hold row locks (watermarks, leases) for long.
    idle_in_transaction_session_timeout: 60_000,
  });
  // An idle connection killed by a server restart is dropped from the pool and replaced on demand;
  // without these listeners pg would rethrow the error and crash the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection lost'));
  pool.on('connect', (client) => client.on('error', (error) => logger.debug({ err: error }, 'PostgreSQL connection lost')));
  return pool;
}

/** A pooled client for one call (discarded after a failure), and a transaction on one. */
export function clientHelpers(pool: pg.Pool) {
  const withClient = async <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (error) {
      // Its state after a failure is unknown (a timed-out query may still be running): discard it.
      client.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  };

  const tx = <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> =>
    withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });

  return { withClient, tx };
}

export async function migrate(connectionString: string, logger: Logger): Promise<void> {
  // Its own connection, without the pool's statement timeout: waiting for another replica's
  // migration, or a long migration, must not time out.
  const client = new pg.Client({ connectionString, application_name: 'capillary-aep-relay-migrate', connectionTimeoutMillis: 10_000 });
  client.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL migration connection lost'));
  try {
    await client.connect();
    await migratePostgres(client, logger);
  } catch (error) {
    throw new StoreUnavailableError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A failure of the connection rather than of one statement: retrying the group alone cannot help. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  const code = error.code ?? '';
  // 08: connection exception; 57P: server shutting down or restarting; 53300: too many connections.
  return code.startsWith('08') || code.startsWith('57P') || code === '53300';
}

export function withTimeout<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from PostgreSQL within ${ms} ms`), { code: 'NO_ANSWER' })), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
