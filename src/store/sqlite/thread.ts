import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../../errors.js';
import type { SqliteStoreOptions } from './store.js';
import type { Store } from '../types.js';
import { FORWARDED_METHODS, WIRE_ARGS, fromWireError, type ForwardedMethod, type WireCall, type WireEntry, type WireError } from './thread-wire.js';

/** The worker's thread name, as /proc/<pid>/task/<tid>/comm shows it (the benchmark reads its CPU there). */
export const STORE_THREAD_NAME = 'sqlite-store';

// Under vitest and tsx the sources are TypeScript: the worker loads tsx's CommonJS hook first.
// Production runs the compiled .js next to this file.
const fromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(fromSource ? './thread-worker.ts' : './thread-worker.js', import.meta.url);
const startWorker = (workerData: object) =>
  fromSource
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(fileURLToPath(WORKER_URL))});`, { eval: true, workerData, name: STORE_THREAD_NAME })
    : new Worker(WORKER_URL, { workerData, name: STORE_THREAD_NAME });

export interface ThreadedSqliteStoreOptions extends SqliteStoreOptions {
  /** The thread died without being asked to (logged by the caller): the store answers 503 from then on. */
  onThreadFailure?: (detail: string) => void;
}

/** For tests only: the thread behind a store, and how many messages went to it. */
export const threadInternals = new WeakMap<Store, { worker: Worker; readonly messagesSent: number }>();

/**
 * The SQLite store on its own thread: the engine (createSqliteStore) runs in thread-worker.ts
 * and owns the connection, the group commit and its fsync; this side is a generic proxy, so the
 * event loop only encodes calls and decodes answers. All calls made in one event-loop turn cross as
 * one message (flushed on setImmediate), so a turn's webhooks still share one commit.
 * If the thread dies, every waiting and later call rejects with StoreUnavailableError (webhooks
 * answer 503, /readyz fails); there is no respawn: a supervisor restarts an unready relay.
 */
export async function createThreadedSqliteStore(options: ThreadedSqliteStoreOptions): Promise<Store> {
  const { onCheckpointFailure, onSlowCheckpoint, onThreadFailure, ...threadOptions } = options;
  const worker = startWorker({ ...threadOptions, threadName: STORE_THREAD_NAME });
  const work = new EventEmitter();
  const waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: unknown) => void }>();
  let queued: WireCall[] = [];
  let flushScheduled = false;
  let nextId = 1;
  let messagesSent = 0;
  /** Set once the store cannot answer any more (closed, or its thread died): every call rejects with it. */
  let gone: StoreUnavailableError | undefined;
  let closing: Promise<void> | undefined;

  const failAll = (error: StoreUnavailableError) => {
    gone ??= error;
    for (const { reject } of waiting.values()) reject(gone);
    waiting.clear();
    queued = [];
  };
  const flush = (close?: number) => {
    flushScheduled = false;
    if (queued.length === 0 && close === undefined) return;
    const calls = queued;
    queued = [];
    messagesSent += 1;
    try {
      worker.postMessage(close === undefined ? { calls } : { calls, close });
    } catch (error) {
      // A value the clone cannot take (too deep, a function): send the calls one by one, and answer
      // the ones that cannot cross with the error rather than leave them waiting for ever.
      for (const call of calls) {
        try {
          worker.postMessage({ calls: [call] });
        } catch {
          const caller = waiting.get(call.id);
          waiting.delete(call.id);
          caller?.reject(new StoreUnavailableError(error));
        }
      }
      if (close !== undefined) worker.postMessage({ calls: [], close });
    }
  };
  const send = (method: ForwardedMethod, args: unknown[]): Promise<unknown> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      queued.push({ id, method, args: WIRE_ARGS[method]?.(args) ?? args });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
  };

  const ready = new Promise<void>((resolve, reject) => {
    const onEntries = (message: WireEntry[] | { ready: true } | { failed: WireError }) => {
      if (!Array.isArray(message)) {
        if ('ready' in message) resolve();
        else reject(fromWireError(message.failed));
        return;
      }
      for (const entry of message) {
        if ('work' in entry) work.emit('work');
        else if ('checkpointFailure' in entry) onCheckpointFailure?.(entry.checkpointFailure);
        else if ('slowCheckpoint' in entry) onSlowCheckpoint?.(entry.slowCheckpoint);
        else {
          const caller = waiting.get(entry.id);
          waiting.delete(entry.id);
          if ('error' in entry) caller?.reject(fromWireError(entry.error));
          else caller?.resolve(entry.result);
        }
      }
    };
    worker.on('message', onEntries);
    worker.on('error', (error) => {
      const detail = `SQLite store thread failed: ${error.message}`;
      reject(error);
      if (!gone) onThreadFailure?.(detail);
      failAll(new StoreUnavailableError(Object.assign(new Error(detail), { code: 'STORE_THREAD_DIED' })));
    });
    worker.on('exit', (exitCode) => {
      const detail = `SQLite store thread exited (code ${exitCode})`;
      reject(new Error(detail));
      if (!gone && !closing) onThreadFailure?.(detail);
      failAll(new StoreUnavailableError(Object.assign(new Error(closing ? 'store closed' : detail), closing ? {} : { code: 'STORE_THREAD_DIED' })));
    });
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await ready;

  const store = Object.fromEntries(FORWARDED_METHODS.map((method) => [method, (...args: unknown[]) => send(method, args)])) as Pick<Store, ForwardedMethod>;
  const proxy: Store = {
    ...store,
    backend: 'sqlite',
    onWork(listener) {
      work.on('work', listener);
      return () => work.off('work', listener);
    },
    close() {
      closing ??= (async () => {
        if (!gone) {
          const id = nextId++;
          const closed = new Promise<unknown>((resolve, reject) => waiting.set(id, { resolve, reject }));
          // The calls of this turn go first, in the same message: the engine answers them, then closes.
          flush(id);
          await closed.catch(() => undefined);
        }
        gone ??= new StoreUnavailableError(new Error('store closed'));
        work.removeAllListeners();
        await worker.terminate();
        await exited;
      })();
      return closing;
    },
  };
  threadInternals.set(proxy, {
    worker,
    get messagesSent() {
      return messagesSent;
    },
  });
  return proxy;
}
