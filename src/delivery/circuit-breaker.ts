/**
 * Stops hammering an Adobe endpoint that is down (Convoy's rule): over the recent requests in the
 * window, at least `minRequests` and a failure ratio of `failureRatio` or more, or `minRequests`
 * failures in a row (an outage after a busy minute, whose successes would hold the ratio down for
 * long: issue 12), opens the circuit for
 * a pause (0.5 s at first, doubling after each failed probe up to `openMs`); then one probe request
 * is let through (half-open) and its result closes or re-opens it. The delivery worker sends one
 * message as the probe, so probing often costs a failing Adobe little, and the first delivery after
 * it answers again comes within a pause.
 * While open, messages simply stay pending in the store: no attempt is spent, nothing is lost.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreaker {
  /** 0 when a request may go now; else milliseconds until the next probe. */
  waitMs(): number;
  /** Must be called when a request is about to go (takes the half-open probe slot). */
  begin(): boolean;
  record(success: boolean): void;
  readonly state: CircuitState;
}

export function createCircuitBreaker(options: {
  windowMs: number;
  minRequests: number;
  failureRatio: number;
  /** The longest pause between probes. */
  openMs: number;
  /** The first pause after the circuit opens (default 0.5 s, at most openMs). */
  firstOpenMs?: number;
  now?: () => number;
  /** Each change of state, with the state it left (an outage starts at closed -> open). */
  onChange?: (state: CircuitState, previous: CircuitState) => void;
}): CircuitBreaker {
  const now = options.now ?? Date.now;
  let results: { at: number; success: boolean }[] = [];
  let failuresInARow = 0;
  let state: CircuitState = 'closed';
  let openUntil = 0;
  let probeInFlight = false;
  // The first pause is short, so a blip heals in half a second; each failed probe doubles it up to
  // openMs, so a long outage costs one probe (of one message) per openMs.
  const firstOpenMs = Math.min(options.openMs, options.firstOpenMs ?? 500);
  let openMs = firstOpenMs;

  const set = (next: CircuitState) => {
    if (next !== state) {
      const previous = state;
      state = next;
      options.onChange?.(next, previous);
    }
  };

  return {
    waitMs() {
      if (state === 'closed') return 0;
      if (state === 'open') return Math.max(0, openUntil - now());
      return probeInFlight ? Math.max(50, Math.min(openMs, 1000)) : 0;
    },
    begin() {
      if (state === 'closed') return true;
      if (state === 'open') {
        if (now() < openUntil) return false;
        set('half_open');
      }
      if (probeInFlight) return false;
      probeInFlight = true;
      return true;
    },
    record(success) {
      const t = now();
      if (state === 'half_open') {
        probeInFlight = false;
        if (success) {
          results = [];
          failuresInARow = 0;
          openMs = firstOpenMs;
          set('closed');
        } else {
          openMs = Math.min(options.openMs, openMs * 2);
          openUntil = t + openMs;
          set('open');
        }
        return;
      }
      failuresInARow = success ? 0 : failuresInARow + 1;
      results.push({ at: t, success });
      results = results.filter((r) => r.at > t - options.windowMs);
      const failures = results.filter((r) => !r.success).length;
      const tripped = results.length >= options.minRequests && failures / results.length >= options.failureRatio;
      if (tripped || failuresInARow >= options.minRequests) {
        openUntil = t + openMs;
        results = [];
        failuresInARow = 0;
        set('open');
      }
    },
    get state() {
      return state;
    },
  };
}
