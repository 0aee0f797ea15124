import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../../src/delivery/rate-limiter.js';

/**
 * The limiter is driven by fake timers and an injected clock (Date.now under vi fake timers):
 * simulated seconds pass in microseconds of wall time, and every grant is stamped exactly.
 */
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(1_750_000_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

interface Grant {
  at: number;
  messages: number;
}

/** `lanes` concurrent senders acquiring for `messages` each, for `durationMs` of simulated time. */
async function saturate(limiter: RateLimiter, options: { lanes: number; messages: (lane: number, i: number) => number; durationMs: number }): Promise<Grant[]> {
  const grants: Grant[] = [];
  const end = Date.now() + options.durationMs;
  let stop = false;
  const lane = async (index: number) => {
    for (let i = 0; !stop; i += 1) {
      const messages = options.messages(index, i);
      await limiter.acquire(messages);
      if (stop) return;
      grants.push({ at: Date.now(), messages });
    }
  };
  const lanes = Array.from({ length: options.lanes }, (_, i) => lane(i));
  await vi.advanceTimersByTimeAsync(end - Date.now());
  stop = true;
  // Let waiting lanes finish their last wait (their grants after `end` are not recorded).
  await vi.runAllTimersAsync();
  await Promise.all(lanes);
  return grants.filter((g) => g.at <= end);
}

/** The busiest one-second sliding window (half-open: (t - 1000, t]) ending at any grant. */
function busiestWindow(grants: Grant[], windowMs = 1_000): { requests: number; messages: number } {
  let requests = 0;
  let messages = 0;
  for (const g of grants) {
    const inWindow = grants.filter((o) => o.at > g.at - windowMs && o.at <= g.at);
    requests = Math.max(requests, inWindow.length);
    messages = Math.max(messages, inWindow.reduce((n, o) => n + o.messages, 0));
  }
  return { requests, messages };
}

const now = () => Date.now();

describe('rate limiter', () => {
  it('never lets more than requestsPerSecond requests through in any one-second window', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 20, messagesPerSecond: 1_000_000, now });
    const grants = await saturate(limiter, { lanes: 4, messages: () => 1, durationMs: 5_000 });
    expect(busiestWindow(grants).requests).toBe(20);
    // And it is not starving the sender: close to the ceiling over the run.
    expect(grants.length).toBeGreaterThanOrEqual(20 * 5);
    expect(grants.length).toBeLessThanOrEqual(20 * 5 + 20);
  });

  it('never lets more than messagesPerSecond messages through in any one-second window', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 100, now });
    const grants = await saturate(limiter, { lanes: 3, messages: (lane, i) => 1 + ((lane * 7 + i * 3) % 13), durationMs: 5_000 });
    const busiest = busiestWindow(grants);
    expect(busiest.messages).toBeLessThanOrEqual(100);
    expect(busiest.messages).toBeGreaterThan(80);
  });

  it('sends a request bigger than the whole allowance alone, in an otherwise empty window', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 50, now });
    const grants = await saturate(limiter, { lanes: 2, messages: (lane) => (lane === 0 ? 80 : 10), durationMs: 5_000 });
    const big = grants.filter((g) => g.messages === 80);
    expect(big.length).toBeGreaterThan(0);
    for (const g of big) {
      const others = grants.filter((o) => o !== g && Math.abs(o.at - g.at) < 1_000);
      expect(others).toEqual([]);
    }
  });

  it('halves the allowed rate on each 429 and wins it back on successes', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 40, messagesPerSecond: 1_000_000, now });
    limiter.onThrottled();
    expect(limiter.factor).toBe(0.5);
    const halved = await saturate(limiter, { lanes: 4, messages: () => 1, durationMs: 3_000 });
    expect(busiestWindow(halved).requests).toBe(20);

    limiter.onThrottled();
    expect(limiter.factor).toBe(0.25);
    const quartered = await saturate(limiter, { lanes: 4, messages: () => 1, durationMs: 3_000 });
    expect(busiestWindow(quartered).requests).toBe(10);

    for (let i = 0; i < 100; i += 1) limiter.onSuccess();
    expect(limiter.factor).toBe(1);
    const recovered = await saturate(limiter, { lanes: 4, messages: () => 1, durationMs: 3_000 });
    expect(busiestWindow(recovered).requests).toBe(40);
  });

  it('a permit shrunk to what was claimed frees the rest of the window at once; shrunk to 0, the request too', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 2, messagesPerSecond: 1_000, now });
    const permit = await limiter.acquire(1_000);
    permit!.resize(100);
    const granted: number[] = [];
    const start = Date.now();
    const next = limiter.acquire(900).then((p) => (granted.push(Date.now() - start), p));
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toEqual([0]);
    // Two requests in the window: a third waits, unless one of them is taken back unsent.
    (await next)!.resize(0);
    const third = limiter.acquire(1).then(() => granted.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(0);
    await third;
    expect(granted).toEqual([0, 0]);
  });

  it('counts the 429s of one burst (several lanes, one window) as one signal', () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000, now });
    for (let i = 0; i < 4; i += 1) limiter.onThrottled();
    expect(limiter.factor).toBe(0.5);
    vi.advanceTimersByTime(1_000);
    limiter.onThrottled();
    expect(limiter.factor).toBe(0.25);
  });

  it('never slows below a floor, however many 429s', () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000, now });
    for (let i = 0; i < 100; i += 1) {
      limiter.onThrottled();
      vi.advanceTimersByTime(1_000);
    }
    expect(limiter.factor).toBeGreaterThan(0);
    limiter.onSuccess();
    expect(limiter.factor).toBeGreaterThan(0.02);
  });

  it("pauses every sender for Adobe's Retry-After", async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000, now });
    await limiter.acquire(1);
    const throttledAt = Date.now();
    limiter.onThrottled(2_000);
    expect(limiter.pausedMs()).toBe(2_000);
    const granted: number[] = [];
    const waiting = Promise.all([1, 2, 3].map(() => limiter.acquire(1).then(() => granted.push(Date.now()))));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(granted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(granted.every((t) => t >= throttledAt + 2_000)).toBe(true);
    expect(limiter.pausedMs()).toBe(0);
  });

  it('answers a caller queued behind a long wait as soon as it aborts, and takes nothing for it', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1, messagesPerSecond: 10, now });
    await limiter.acquire(1);
    const first = limiter.acquire(1).then(() => Date.now());
    const abort = new AbortController();
    let abortedAt: number | undefined;
    const queued = limiter.acquire(1, abort.signal).then(() => (abortedAt = Date.now()));
    await vi.advanceTimersByTimeAsync(300);
    abort.abort();
    await queued;
    expect(abortedAt).toBe(1_750_000_000_000 + 300);
    expect(await vi.runAllTimersAsync().then(() => first)).toBe(1_750_000_000_000 + 1_000);
    // The aborted call took no slot: the next one goes a second after the first waiter.
    const next = limiter.acquire(1).then(() => Date.now());
    await vi.runAllTimersAsync();
    expect(await next).toBe(1_750_000_000_000 + 2_000);
  });

  it('returns at once, taking nothing, when the caller aborts', async () => {
    const limiter = createRateLimiter({ requestsPerSecond: 1, messagesPerSecond: 10, now });
    await limiter.acquire(1);
    const abort = new AbortController();
    let done = false;
    const waiting = limiter.acquire(1, abort.signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toBe(false);
    abort.abort();
    await waiting;
    expect(done).toBe(true);
    // The aborted call took no slot: the next request goes as soon as the first leaves the window.
    const next = limiter.acquire(1).then(() => Date.now());
    await vi.runAllTimersAsync();
    expect(await next).toBe(1_750_000_000_000 + 1_000);
  });
});
