import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { createThreadedSqliteStore } from './sqlite/thread.js';
import type { Store } from './types.js';

/**
 * `sqlite:<path>` (default, one process) or `postgres://...` (several replicas share it). SQLite runs
 * on its own thread (sqlite/thread.ts), so its commits and fsyncs stay off the event loop.
 */
export async function createStore(options: { url: string; synchronous: 'full' | 'normal'; checkpointIntervalMs?: number; maxSizeBytes?: number; queryTimeoutMs?: number; logger: Logger }): Promise<Store> {
  if (options.url.startsWith('sqlite:')) {
    const path = options.url.slice('sqlite:'.length);
    if (path === '') throw new ConfigError('STORE_URL', 'sqlite:<path to the database file>');
    return createThreadedSqliteStore({
      path,
      synchronous: options.synchronous,
      ...(options.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: options.checkpointIntervalMs } : {}),
      ...(options.maxSizeBytes !== undefined ? { maxSizeBytes: options.maxSizeBytes } : {}),
      onCheckpointFailure: (detail) => options.logger.warn({ detail }, 'WAL checkpoint thread failed; SQLite checkpoints in commits meanwhile'),
      // A TRUNCATE blocks commits while it runs: its time is what webhooks may have waited.
      onSlowCheckpoint: (run) => options.logger.info({ mode: run.mode, ms: Math.round(run.ms), walBytes: run.walBytes, busy: run.busy }, 'WAL checkpoint'),
      // No respawn: the store answers 503 and /readyz fails from then on, so a supervisor restarts the relay.
      onThreadFailure: (detail) => options.logger.error({ detail }, 'SQLite store thread died; the relay is unready until restarted'),
    });
  }
  const { createPostgresStore } = await import('./postgres/store.js');
  return createPostgresStore({
    connectionString: options.url,
    logger: options.logger,
    ...(options.queryTimeoutMs !== undefined ? { queryTimeoutMs: options.queryTimeoutMs } : {}),
  });
}
