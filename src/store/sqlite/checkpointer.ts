import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection, every `intervalMs`.
 * Left to SQLite, a checkpoint runs inside whichever commit pushes the WAL past 1,000 pages: it
 * copies pages into the database file and (with synchronous=FULL) fsyncs it, on the event loop,
 * stalling every webhook in flight (the benchmark's profile: stalls of up to 336 ms). A PASSIVE
 * checkpoint takes no write lock, so the main connection keeps committing meanwhile. The main
 * connection keeps a large auto-checkpoint as a safety net should this thread ever stop.
 *
 * The WAL is also kept small: a WAL past `walLimitBytes` is checkpointed with TRUNCATE. On a full
 * disk a big WAL is a trap: its pages cannot be copied into the database file without as much new
 * space, and every failed checkpoint eats part of what an operator frees (issue 11).
 */
/** The WAL's bound: past it the next checkpoint truncates it (see docs/reliability.md "Disk space"). */
export const WAL_LIMIT_BYTES = 4 * 1024 * 1024;
/**
 * Below this much room (on the disk, or under STORE_MAX_SIZE_MB) a WAL past its bound is cut back
 * with TRUNCATE, by this thread and by the writer (space-guard.ts), instead of a PASSIVE
 * checkpoint that leaves the file at its size.
 */
export const LOW_ROOM_BYTES = 64 * 1024 * 1024;

/** One checkpoint as the thread ran it: how long, on how big a WAL, and whether it gave up (busy). */
export interface CheckpointRun {
  mode: 'PASSIVE' | 'TRUNCATE';
  ms: number;
  walBytes: number;
  busy: number;
}

export interface Checkpointer {
  /** Checkpoints completed so far (for tests and logs). */
  readonly runs: number;
  stop(): Promise<void>;
}

// Plain CommonJS for an eval'd worker: it runs as is under tsc's output and under vitest alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const { statSync, statfsSync } = require('node:fs');
const { dirname } = require('node:path');
try {
  // Named for top -H and the benchmark's CPU per thread, as the store's own thread is (thread-worker.ts).
  require('node:fs').writeFileSync('/proc/thread-self/comm', 'sqlite-ckpt');
} catch {}
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('journal_size_limit = ' + workerData.walLimitBytes);
if (workerData.maxPageCount) db.pragma('max_page_count = ' + workerData.maxPageCount);
const walBytes = () => {
  try {
    return statSync(workerData.path + '-wal').size;
  } catch {
    return 0;
  }
};
const checkpoint = (mode) => {
  try {
    const walBytesBefore = walBytes();
    const started = performance.now();
    const [result] = db.pragma('wal_checkpoint(' + mode + ')');
    // busy: 1 when it could not finish (a TRUNCATE that gave up waiting on a reader or writer).
    parentPort.postMessage({ mode, ms: performance.now() - started, walBytes: walBytesBefore, busy: result ? result.busy : 0 });
  } catch (error) {
    parentPort.postMessage('failed: ' + (error && error.message));
  }
};
/** Bytes the store can still grow by: free on its disk, or under its size cap if that is less. */
const room = () => {
  let bytes = Infinity;
  try {
    const fs = statfsSync(dirname(workerData.path));
    bytes = fs.bavail * fs.bsize;
  } catch {}
  if (workerData.maxPageCount) {
    const pragma = (name) => db.pragma(name, { simple: true });
    bytes = Math.min(bytes, (pragma('max_page_count') - pragma('page_count') + pragma('freelist_count')) * pragma('page_size'));
  }
  return bytes;
};
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs);
/**
 * A TRUNCATE takes the write lock, copies what is left, then waits (SQLite's busy handler) until no
 * reader uses the WAL before it cuts it: commits wait behind it all that time. With a reader of a
 * second or so (an operator's query, a backup, the bench's counting reads) webhooks waited up to
 * 1 s, this connection's whole busy_timeout (the bench's prune: TRUNCATEs of 648 and 1,031 ms under
 * reads of 715 and 1,189 ms, webhooks of 749 and 884 ms). So it is patient only briefly: long
 * enough to find the write lock between two commits, too short to hold commits up; one that gives
 * up is a PASSIVE checkpoint, and the next try comes 100 ms later. Only a WAL grown far past its
 * bound, or a disk running out of room, earns the long wait: then space comes before latency.
 */
const TRUNCATE_PATIENCE_MS = 20;
const truncate = (patienceMs) => {
  db.pragma('busy_timeout = ' + patienceMs);
  try {
    checkpoint('TRUNCATE');
  } finally {
    db.pragma('busy_timeout = 1000');
  }
};
// A WAL past its bound is checkpointed at once, PASSIVE first: that copies the bulk of it without
// ever blocking a commit. Under steady writes a WAL never starts over by itself (new frames keep
// arriving while a checkpoint runs), so past four times its bound a TRUNCATE follows and cuts it
// back to zero; right after the PASSIVE one it has only the last few frames to copy.
const guard = setInterval(() => {
  if (walBytes() <= workerData.walLimitBytes) return;
  checkpoint('PASSIVE');
  if (room() < workerData.lowRoomBytes || walBytes() > 16 * workerData.walLimitBytes) truncate(1000);
  else if (walBytes() > 4 * workerData.walLimitBytes) truncate(TRUNCATE_PATIENCE_MS);
}, Math.min(100, workerData.intervalMs));
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  clearInterval(guard);
  db.close();
  parentPort.close();
});
`;

export function startCheckpointer(
  path: string,
  /** maxPageCount: the store's size cap (STORE_MAX_SIZE_MB), applied on this connection too. */
  options: { intervalMs: number; walLimitBytes: number; maxPageCount?: number; lowRoomBytes?: number },
  onFailure: (detail: string) => void,
  onCheckpoint?: (run: CheckpointRun) => void,
): Checkpointer {
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { lowRoomBytes: LOW_ROOM_BYTES, ...options, path, modulePath } });
  let runs = 0;
  worker.on('message', (message: string | CheckpointRun) => {
    if (typeof message === 'string') return onFailure(message);
    runs += 1;
    onCheckpoint?.(message);
  });
  worker.on('error', (error) => onFailure(error.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    get runs() {
      return runs;
    },
    stop() {
      stopping ??= (async () => {
        worker.postMessage('stop');
        await exited;
      })();
      return stopping;
    },
  };
}
