import type { AcceptResult, NewEvent } from './types.js';

export interface PendingAccept {
  input: NewEvent;
  resolve: (result: AcceptResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit, shared by both stores: webhook commits that arrive in the same turn of the event
 * loop are handed to `commitGroup` together, so one transaction (one fsync) serves many events,
 * and each caller still resolves only once its own event is durable.
 */
export function createCommitQueue(commitGroup: (group: PendingAccept[]) => void) {
  let queue: PendingAccept[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const group = queue;
    queue = [];
    if (group.length > 0) commitGroup(group);
  };

  return {
    enqueue(input: NewEvent): Promise<AcceptResult> {
      return new Promise<AcceptResult>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Commits what is queued now (on close: those events were promised an answer). */
    flush,
  };
}
