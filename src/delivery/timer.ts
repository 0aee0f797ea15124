import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The delivery worker's waits (linger, lease deadlines, idle polls, backoff, the stop grace) and the
 * monotonic clock they are measured on. Injected so tests can drive time by hand instead of racing
 * the wall clock (issue 11); production uses the real one.
 */
export interface Timer {
  /** Monotonic milliseconds, immune to wall-clock steps: only differences mean anything. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realTimer: Timer = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined),
};
