import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { LOW_ROOM_BYTES, WAL_LIMIT_BYTES } from './checkpointer.js';

/** Below this much free next to the database, new webhooks are refused (docs/reliability.md "Disk space"). */
export const REFUSE_BELOW_FREE_BYTES = 1024 * 1024;
/** How often the free space and the WAL's size are looked at, between group commits. */
const CHECK_EVERY_MS = 100;

/**
 * Run before each group commit. Two things keep a store that ran out of disk able to recover:
 * - Below REFUSE_BELOW_FREE_BYTES free, the commit is refused with SQLITE_FULL (webhooks answer 503)
 *   before the disk is full: that room is what a checkpoint needs to copy the WAL into the database
 *   file and give the WAL's space back. Without it, commits arriving back to back (the store's own
 *   thread commits the moment the last commit ends) fill the space an operator just freed before the
 *   WAL is cut back, and the store stays full (test/process/disk-full.test.ts failed 1 run in 11).
 * - When room runs low, a WAL past its bound is cut back (TRUNCATE) here, between two commits, by the
 *   connection that writes: the checkpoint thread does the same, but under back-to-back commits it
 *   seldom gets the write lock in time.
 */
export function createSpaceGuard(db: Database.Database, path: string, roomUnderCap?: () => number) {
  if (path === ':memory:') return { beforeCommit: () => undefined };
  let checkedAt = 0;
  let free = Infinity;
  return {
    beforeCommit(): void {
      const now = Date.now();
      if (now - checkedAt >= CHECK_EVERY_MS) {
        checkedAt = now;
        const fs = statfsSync(dirname(path));
        free = fs.bavail * fs.bsize;
        // Only when room runs low: a TRUNCATE checkpoint on the writer copies the whole WAL into the
        // database file and fsyncs it while every webhook commit waits; with room to spare the
        // checkpoint thread's PASSIVE checkpoints keep the WAL near its bound without blocking.
        if (Math.min(free, roomUnderCap?.() ?? Infinity) < LOW_ROOM_BYTES) cutWalBack(db, path);
      }
      if (free < REFUSE_BELOW_FREE_BYTES) {
        throw Object.assign(new Error(`${free} bytes free next to the database; new events need ${REFUSE_BELOW_FREE_BYTES}`), { code: 'SQLITE_FULL' });
      }
    },
  };
}

/** A TRUNCATE checkpoint when the WAL is past its bound; a failure (full disk, a reader) is left to the next try. */
export function cutWalBack(db: Database.Database, path: string): void {
  let walBytes = 0;
  try {
    walBytes = statSync(`${path}-wal`).size;
  } catch {
    return;
  }
  if (walBytes <= WAL_LIMIT_BYTES) return;
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // still full, or busy: the next commit and the checkpoint thread try again
  }
}
