import { createTurnQueue } from '../shared/commit-queue.js';

/**
 * Calls made in the same turn of the event loop, run together by `runBatch` on the next turn: how
 * the SQLite store commits a chunk of event replays in one transaction (one fsync), as the commit
 * queue does for webhooks. Each caller gets its own item's result, or the batch's failure.
 */
export function createTurnBatch<I, R>(runBatch: (items: I[]) => R[]) {
  const queue = createTurnQueue<I, R>((batch) => {
    let results: R[];
    try {
      results = runBatch(batch.map((b) => b.input));
    } catch (error) {
      for (const b of batch) b.reject(error);
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]!));
  });
  return { add: queue.enqueue, flush: queue.flush };
}
