/**
 * Lets idle delivery lanes sleep until new work arrives or a deadline passes: one timer per waiting
 * lane, never one per event.
 */
export interface Waker {
  /** Resolves true when woken by notify(), false when `ms` elapsed. */
  wait(ms: number): Promise<boolean>;
  notify(): void;
}

export function createWaker(): Waker {
  const waiters = new Set<(woken: boolean) => void>();
  return {
    wait(ms) {
      return new Promise<boolean>((resolve) => {
        const done = (woken: boolean) => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(woken);
        };
        const timer = setTimeout(done, Math.max(0, ms), false);
        waiters.add(done);
      });
    },
    notify() {
      for (const done of [...waiters]) done(true);
    },
  };
}
