import type { AcceptResult, NewEvent } from '../types.js';

/** A call waiting for its turn's batch: its input, and how to answer it. */
export interface Pending<I, R> {
  input: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export type PendingAccept = Pending<NewEvent, AcceptResult>;

/**
 * Calls made in the same turn of the event loop, handed to `run` together on the next turn; `run`
 * answers each one. The stores' group commit (one transaction, one fsync, for many webhooks) and
 * the SQLite store's batched replays (sqlite/turn-batch.ts) are both built on it.
 */
export function createTurnQueue<I, R>(run: (group: Pending<I, R>[]) => void) {
  let queue: Pending<I, R>[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const group = queue;
    queue = [];
    if (group.length > 0) run(group);
  };

  return {
    enqueue(input: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Runs what is queued now (on close: those callers were promised an answer). */
    flush,
  };
}

/**
 * Group commit, shared by both stores: webhook commits that arrive in the same turn of the event
 * loop are handed to `commitGroup` together, so one transaction (one fsync) serves many events,
 * and each caller still resolves only once its own event is durable.
 */
export const createCommitQueue = (commitGroup: (group: PendingAccept[]) => void) => createTurnQueue<NewEvent, AcceptResult>(commitGroup);
