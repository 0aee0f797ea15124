import type { Timer } from '../../src/delivery/timer.js';

/**
 * A Timer whose time moves only when the test says so: a wait ends when `advance` reaches its
 * deadline (or its signal aborts), never because the machine was fast or slow. `sleepers` lets a test
 * wait until the code under test is parked before it moves time on.
 */
export class ManualTimer implements Timer {
  private time: number;
  private readonly waits = new Set<{ until: number; wake: () => void }>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** How many waits are pending. */
  get sleepers(): number {
    return this.waits.size;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wait = {
        until: this.time + Math.max(0, ms),
        wake: () => {
          this.waits.delete(wait);
          signal?.removeEventListener('abort', wait.wake);
          resolve();
        },
      };
      this.waits.add(wait);
      signal?.addEventListener('abort', wait.wake, { once: true });
      if (ms <= 0) wait.wake();
    });
  }

  /** Moves time on by `ms`, ending every wait whose deadline it reaches. */
  advance(ms: number): void {
    this.time += ms;
    for (const wait of [...this.waits]) if (wait.until <= this.time) wait.wake();
  }
}
