/**
 * Calls made in the same turn of the event loop, run together by `runBatch` on the next turn: how
 * the SQLite store commits a chunk of event replays in one transaction (one fsync), as the commit
 * queue does for webhooks. Each caller gets its own item's result, or the batch's failure.
 */
export function createTurnBatch<I, R>(runBatch: (items: I[]) => R[]) {
  let queue: { item: I; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    let results: R[];
    try {
      results = runBatch(batch.map((b) => b.item));
    } catch (error) {
      for (const b of batch) b.reject(error);
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]!));
  };

  return {
    add(item: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
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
