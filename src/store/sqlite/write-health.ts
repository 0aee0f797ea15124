import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { roomUnderCap } from './size-cap.js';
import { cutWalBack } from './space-guard.js';
import type { Statements } from './statements.js';

/**
 * Free space the store wants on its filesystem to report ready: room for the WAL to grow to its
 * bound and be checkpointed into the database file (docs/reliability.md "Disk space"). The same room is wanted
 * under a size cap (STORE_MAX_SIZE_MB), so readiness fails before commits do.
 */
export const MIN_FREE_BYTES = 2 * 1024 * 1024;

/**
 * Whether the store can take writes: remembers why the last write failed, and answers the readiness
 * probe (`checkWritable`) from the room left and, after a failure, from a real one-row commit.
 */
export function createWriteHealth(db: Database.Database, sql: Statements, path: string, maxPageCount: number | undefined) {
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

  const check = (): void => {
    // A disk that is as good as full fails readiness before commits start failing, and keeps
    // failing it until the store has room to work again (a tiny probe commit fits long before).
    if (path !== ':memory:') {
      const fs = statfsSync(dirname(path));
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
    if (path !== ':memory:') cutWalBack(db, path);
    noteWrite(() => sql.probe.run(Date.now()));
  };

  return { noteWrite, check };
}
