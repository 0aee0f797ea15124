import { realTimer, type Timer } from './timer.js';

/**
 * Lets idle delivery lanes sleep until new work arrives or a deadline passes: one timer per waiting
 * lane, never one per event.
 */
export interface Waker {
  /** Resolves true when woken by notify(), false when `ms` elapsed. */
  wait(ms: number): Promise<boolean>;
  notify(): void;
}

export function createWaker(timer: Timer = realTimer): Waker {
  const waiters = new Set<AbortController>();
  return {
    async wait(ms) {
      const woken = new AbortController();
      waiters.add(woken);
      try {
        await timer.sleep(Math.max(0, ms), woken.signal);
        return woken.signal.aborted;
      } finally {
        waiters.delete(woken);
      }
    },
    notify() {
      for (const woken of waiters) woken.abort();
    },
  };
}
