import { writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createSqliteStore, type SqliteStoreOptions } from './store.js';
import type { Store } from '../types.js';
import { toWireError, type WireEntry, type WireRequest } from './thread-wire.js';

/**
 * The SQLite store's thread (started by thread.ts): the engine (store.ts) runs here
 * unchanged, with its group commit, fsync, chunked long jobs and checkpoint thread, and this file
 * only serves calls by name. A turn's calls arrive as one message, so the engine's commit queue
 * groups that turn's webhooks into one transaction as it does in process; the replies of a turn
 * leave as one message too.
 */
const port = parentPort!;
const { threadName, ...engineOptions } = workerData as Omit<SqliteStoreOptions, 'onCheckpointFailure' | 'onSlowCheckpoint'> & { threadName: string };
// Node 20 leaves every thread named "node": naming this one lets `top -H`, /proc and the benchmark
// (bench/store/store-thread.ts) tell the store's CPU from the event loop's. Linux only; harmless elsewhere.
try {
  writeFileSync('/proc/thread-self/comm', threadName);
} catch {
  // not Linux, or /proc not mounted
}
let outbox: WireEntry[] = [];
const send = (entry: WireEntry) => {
  if (outbox.length === 0) setImmediate(flushOutbox);
  outbox.push(entry);
};
function flushOutbox(): void {
  if (outbox.length === 0) return;
  const entries = outbox;
  outbox = [];
  port.postMessage(entries);
}

let store: Store;
try {
  store = createSqliteStore({
    ...engineOptions,
    onCheckpointFailure: (detail) => send({ checkpointFailure: detail }),
    onSlowCheckpoint: (run) => send({ slowCheckpoint: run }),
  });
} catch (error) {
  port.postMessage({ failed: toWireError(error) });
  process.exit(1);
}
// The engine emits 'work' synchronously inside the commit, before its callers' promises settle, so
// this notice is queued ahead of that commit's replies: a listener has heard by the time they resolve.
store.onWork(() => send({ work: true }));
port.postMessage({ ready: true });

const call = (id: number, run: () => Promise<unknown>) => {
  let pending: Promise<unknown>;
  try {
    pending = run();
  } catch (error) {
    pending = Promise.reject(error);
  }
  pending.then(
    (result) => send({ id, result }),
    (error: unknown) => send({ id, error: toWireError(error) }),
  );
};

port.on('message', (request: WireRequest) => {
  for (const { id, method, args } of request.calls) {
    call(id, () => (store[method] as (...a: unknown[]) => Promise<unknown>)(...args));
  }
  if (request.close !== undefined) {
    const closeId = request.close;
    // The engine's close commits what is queued (those callers were promised an answer); their
    // replies are sent before the close's, then the thread ends.
    call(closeId, () => store.close());
  }
});
