import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../src/delivery/backoff.js';

const policy = { baseMs: 100, maxMs: 10_000 };
/** Evenly spread values in [0, 1): stands in for Math.random without flakiness. */
const randoms = Array.from({ length: 101 }, (_, i) => (i === 100 ? 0.999_999 : i / 100));

describe('retryDelayMs: exponential backoff with full jitter', () => {
  it('stays within [base, min(max, base * 2^attempt)] for every attempt', () => {
    const outside: string[] = [];
    for (let attempt = 0; attempt <= 40; attempt += 1) {
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
      for (const r of randoms) {
        const delay = retryDelayMs(attempt, policy, () => r);
        if (delay < policy.baseMs || delay > ceiling) outside.push(`attempt ${attempt}, random ${r}: ${delay}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it('spreads over the whole range: the lowest draw gives base, the highest the ceiling', () => {
    expect(retryDelayMs(0, policy, () => 0)).toBe(100);
    expect(retryDelayMs(0, policy, () => 0.999_999)).toBe(100);
    expect(retryDelayMs(3, policy, () => 0)).toBe(100);
    expect(retryDelayMs(3, policy, () => 0.999_999)).toBe(800);
    expect(retryDelayMs(3, policy, () => 0.5)).toBe(450);
  });

  it('is capped at maxMs, also for absurd attempt counts', () => {
    expect(retryDelayMs(7, policy, () => 0.999_999)).toBe(10_000);
    expect(retryDelayMs(1_000, policy, () => 0.999_999)).toBe(10_000);
    expect(retryDelayMs(Number.MAX_SAFE_INTEGER, policy, () => 0.5)).toBeLessThanOrEqual(10_000);
  });

  it('uses Math.random when no source is given and still respects the bounds', () => {
    const delays = Array.from({ length: 200 }, () => retryDelayMs(4, policy));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_600);
  });

  it('treats Retry-After as a floor above the jittered delay', () => {
    expect(retryDelayMs(0, policy, () => 0, 5_000)).toBe(5_000);
    expect(retryDelayMs(6, policy, () => 0.999_999, 5_000)).toBe(6_400);
    // Shorter than the backoff: the backoff wins.
    expect(retryDelayMs(6, policy, () => 0.999_999, 1_000)).toBe(6_400);
    expect(retryDelayMs(0, policy, () => 0, 0)).toBe(100);
  });

  it('clamps Retry-After to maxMs (a sink passes Adobe\'s value through uncapped)', () => {
    expect(retryDelayMs(0, policy, () => 0, 3_600_000)).toBe(10_000);
    expect(retryDelayMs(0, policy, () => 0, Number.MAX_SAFE_INTEGER)).toBe(10_000);
  });
});
