import { describe, expect, it } from 'vitest';
import { createCircuitBreaker, type CircuitState } from '../../src/delivery/circuit-breaker.js';

function breaker(overrides: { windowMs?: number; openMs?: number; firstOpenMs?: number } = {}) {
  const clock = { t: 1_000_000 };
  const changes: CircuitState[] = [];
  const cb = createCircuitBreaker({
    windowMs: overrides.windowMs ?? 60_000,
    minRequests: 10,
    failureRatio: 0.7,
    openMs: overrides.openMs ?? 30_000,
    // The tests below pin the pause at openMs unless they test the growth from a shorter first one.
    firstOpenMs: overrides.firstOpenMs ?? overrides.openMs ?? 30_000,
    now: () => clock.t,
    onChange: (state) => changes.push(state),
  });
  /** Records outcomes the way the worker does: begin() then record(). */
  const run = (...outcomes: boolean[]) => {
    for (const ok of outcomes) {
      expect(cb.begin()).toBe(true);
      cb.record(ok);
      clock.t += 10;
    }
  };
  return { cb, clock, changes, run };
}
const fail = (n: number) => Array<boolean>(n).fill(false);
const pass = (n: number) => Array<boolean>(n).fill(true);

describe('circuit breaker', () => {
  it('stays closed below the minimum number of requests, however many fail', () => {
    const { cb, run, changes } = breaker();
    run(...fail(9));
    expect(cb.state).toBe('closed');
    expect(cb.waitMs()).toBe(0);
    expect(changes).toEqual([]);
  });

  it('opens at 70% failures over 10 requests', () => {
    const { cb, run, changes } = breaker();
    run(...pass(3), ...fail(7));
    expect(cb.state).toBe('open');
    expect(changes).toEqual(['open']);
  });

  it('stays closed at 60% failures over 10 requests', () => {
    const { cb, run } = breaker();
    run(...pass(4), ...fail(6));
    expect(cb.state).toBe('closed');
  });

  it('opens after 10 failures in a row, however many successes the window holds', () => {
    const { cb, run, changes } = breaker();
    run(...pass(1000), ...fail(9));
    expect(cb.state).toBe('closed');
    run(...pass(1), ...fail(9));
    expect(cb.state).toBe('closed');
    run(...fail(1));
    expect(cb.state).toBe('open');
    expect(changes).toEqual(['open']);
  });

  it('only counts requests inside the window', () => {
    const { cb, run, clock } = breaker({ windowMs: 1_000 });
    run(...fail(9));
    clock.t += 2_000; // those nine are now outside the window
    run(...pass(1), ...fail(6));
    expect(cb.state).toBe('closed');
    run(...fail(3));
    // 10 in the window now: 1 success, 9 failures.
    expect(cb.state).toBe('open');
  });

  it('stays open for openMs: no request may begin, waitMs counts down', () => {
    const { cb, run, clock } = breaker({ openMs: 30_000 });
    run(...fail(10));
    expect(cb.begin()).toBe(false);
    // run() moved the clock 10 ms past the tenth failure.
    expect(cb.waitMs()).toBe(30_000 - 10);
    clock.t += 30_000 - 10 - 1;
    expect(cb.waitMs()).toBe(1);
    expect(cb.begin()).toBe(false);
    expect(cb.state).toBe('open');
  });

  it('after openMs lets exactly one probe through (half-open)', () => {
    const { cb, run, clock, changes } = breaker({ openMs: 30_000 });
    run(...fail(10));
    clock.t += 30_000;
    expect(cb.waitMs()).toBe(0);
    expect(cb.begin()).toBe(true);
    expect(cb.state).toBe('half_open');
    // Others wait while the probe is out.
    expect(cb.begin()).toBe(false);
    expect(cb.begin()).toBe(false);
    expect(cb.waitMs()).toBeGreaterThan(0);
    expect(changes).toEqual(['open', 'half_open']);
  });

  it('closes when the probe succeeds, with a fresh window', () => {
    const { cb, run, clock, changes } = breaker({ openMs: 30_000 });
    run(...fail(10));
    clock.t += 30_000;
    expect(cb.begin()).toBe(true);
    cb.record(true);
    expect(cb.state).toBe('closed');
    expect(cb.waitMs()).toBe(0);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
    // The failures that opened it are forgotten: nine more failures do not reopen it.
    run(...fail(9));
    expect(cb.state).toBe('closed');
  });

  it('reopens for another openMs when the probe fails', () => {
    const { cb, run, clock, changes } = breaker({ openMs: 30_000 });
    run(...fail(10));
    clock.t += 30_000;
    expect(cb.begin()).toBe(true);
    cb.record(false);
    expect(cb.state).toBe('open');
    expect(cb.waitMs()).toBe(30_000);
    expect(cb.begin()).toBe(false);
    clock.t += 30_000;
    expect(cb.begin()).toBe(true);
    cb.record(true);
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('tells each change with the state it left, so the start of an outage (closed -> open) is told apart from a failed probe', () => {
    let t = 0;
    const seen: string[] = [];
    const cb = createCircuitBreaker({ windowMs: 60_000, minRequests: 10, failureRatio: 0.7, openMs: 500, now: () => t, onChange: (state, previous) => seen.push(`${previous}->${state}`) });
    for (let i = 0; i < 10; i += 1) {
      cb.begin();
      cb.record(false);
    }
    for (const ok of [false, true]) {
      t += cb.waitMs();
      expect(cb.begin()).toBe(true);
      cb.record(ok);
    }
    expect(seen).toEqual(['closed->open', 'open->half_open', 'half_open->open', 'open->half_open', 'half_open->closed']);
  });

  it('pauses half a second at first unless told otherwise, so the first delivery after an outage comes within about that', () => {
    let t = 0;
    const cb = createCircuitBreaker({ windowMs: 60_000, minRequests: 10, failureRatio: 0.7, openMs: 30_000, now: () => t });
    for (let i = 0; i < 10; i += 1) {
      cb.begin();
      cb.record(false);
    }
    expect(cb.state).toBe('open');
    expect(cb.waitMs()).toBe(500);
    t += 499;
    expect(cb.begin()).toBe(false);
    t += 1;
    expect(cb.begin()).toBe(true);
    cb.record(false);
    expect(cb.waitMs()).toBe(1_000);
  });

  it('starts with a short pause and doubles it after each failed probe, up to openMs, then resets', () => {
    const { cb, run, clock } = breaker({ openMs: 10_000, firstOpenMs: 2_000 });
    run(...fail(10));
    const pauses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const pause = cb.waitMs() + 10; // run() moved the clock 10 ms past the failure that opened it
      pauses.push(i === 0 ? pause : cb.waitMs());
      clock.t += cb.waitMs();
      expect(cb.begin()).toBe(true);
      cb.record(false);
    }
    expect(pauses).toEqual([2_000, 4_000, 8_000, 10_000]);
    clock.t += cb.waitMs();
    expect(cb.begin()).toBe(true);
    cb.record(true);
    run(...fail(10));
    expect(cb.waitMs()).toBe(2_000 - 10);
  });
});
