import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { startCheckpointer, WAL_LIMIT_BYTES, type Checkpointer, type CheckpointRun } from './checkpointer.js';
import { capDatabaseSize } from './size-cap.js';
import { migrate } from './statements.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for throwaway unit tests. */
  path: string;
  /**
   * 'full': a commit survives power loss (the WAL is fsynced on every commit).
   * 'normal': a commit survives a process crash (kill -9), not a power cut. See docs/reliability.md "Durability".
   */
  synchronous: 'full' | 'normal';
  /** How often the checkpoint thread checkpoints the WAL (default 1 s; 0: no thread, SQLite checkpoints in commits). */
  checkpointIntervalMs?: number;
  onCheckpointFailure?: (detail: string) => void;
  /** A checkpoint that may have held up commits: every TRUNCATE (it blocks writers) and any taking SLOW_CHECKPOINT_MS or more. */
  onSlowCheckpoint?: (run: CheckpointRun) => void;
  /** STORE_MAX_SIZE_MB in bytes: past it commits fail with SQLITE_FULL (size-cap.ts). Unset: no cap. */
  maxSizeBytes?: number;
}

/** A PASSIVE checkpoint this slow is worth a log line (it holds no lock, but shares the disk with commits). */
export const SLOW_CHECKPOINT_MS = 50;

export interface OpenedDatabase {
  db: Database.Database;
  /** The page cap that enforces STORE_MAX_SIZE_MB, when one is set. */
  maxPageCount: number | undefined;
  checkpointer: Checkpointer | undefined;
}

/** Opens (or creates) the database file with the store's pragmas, migrates it, and starts its checkpoint thread. */
export function openSqliteDatabase(options: SqliteStoreOptions): OpenedDatabase {
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
      : startCheckpointer(
          options.path,
          { intervalMs: options.checkpointIntervalMs ?? 1000, walLimitBytes: WAL_LIMIT_BYTES, ...(maxPageCount ? { maxPageCount } : {}) },
          (detail) => options.onCheckpointFailure?.(detail),
          (run) => {
            if (run.mode === 'TRUNCATE' || run.ms >= SLOW_CHECKPOINT_MS) options.onSlowCheckpoint?.(run);
          },
        );
  if (checkpointer) db.pragma('wal_autocheckpoint = 10000');
  return { db, maxPageCount, checkpointer };
}
