import { describe, expect, it, vi } from 'vitest';
import { retryDelayMs } from '../../src/delivery/backoff.js';
import type { MessageOutcome } from '../../src/delivery/types.js';
import { DAY, retryAll, T0, useWorkerHarness } from '../helpers/delivery-worker-harness.js';
import { metricValue } from '../helpers/metric-values.js';
import { waitFor } from '../helpers/wait-for.js';

/** What the worker records for each outcome a sink reports, on a real SQLite store, and its metrics. */
const h = useWorkerHarness();

describe('delivery worker: outcomes', () => {
  it('delivered: recorded once, counted by kind, latency from acceptance observed', async () => {
    const a = await h.accept(['event', 'profile'], T0 - 5_000);
    const b = await h.accept(['event', 'profile'], T0 - 5_000);
    h.startWorker();
    for (const id of [a, b]) await h.settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    for (const id of [a, b]) for (const m of await h.messagesOf(id)) expect(m).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: T0, lastError: null });
    expect(await metricValue(h.metrics.registry, 'relay_messages_delivered_total', { kind: 'event' })).toBe(2);
    expect(await metricValue(h.metrics.registry, 'relay_messages_delivered_total', { kind: 'profile' })).toBe(2);
    expect(await metricValue(h.metrics.registry, 'relay_event_delivery_latency_seconds_count')).toBe(4);
    expect(await metricValue(h.metrics.registry, 'relay_event_delivery_latency_seconds_sum')).toBe(20);
    expect(h.sink.sends.flatMap((s) => s.ids)).toHaveLength(4);
  });

  it('rejected: dead-lettered with the reason and Adobe\'s detail, never retried', async () => {
    const bad = await h.accept();
    const good = await h.accept();
    const badMessage = await h.messageOf(bad);
    h.sink.script((batch) =>
      batch.map((m): MessageOutcome => (m.id === badMessage.id ? { id: m.id, outcome: 'rejected', reason: 'invalid_xdm', detail: '400: Missing required field: timestamp' } : { id: m.id, outcome: 'delivered' })),
    );
    h.startWorker();
    await h.settledWith(bad, (m) => m.state === 'dead', 'dead letter');
    await h.settledWith(good, (m) => m.state === 'delivered', 'the good one delivered');
    expect(await h.messageOf(bad)).toMatchObject({ state: 'dead', deadReason: 'invalid_xdm', lastError: '400: Missing required field: timestamp', attempts: 1 });
    const [letter] = await h.store.listDeadLetters({ limit: 10 });
    expect(letter).toMatchObject({ eventId: bad, reason: 'invalid_xdm', error: '400: Missing required field: timestamp' });
    expect(await metricValue(h.metrics.registry, 'relay_messages_dead_lettered_total', { reason: 'invalid_xdm' })).toBe(1);
    expect(await metricValue(h.metrics.registry, 'relay_delivery_retries_total')).toBe(0);
    expect(h.sink.sends).toHaveLength(1);
  });

  it('retry: next attempt after the backoff for the attempt count, which grows; retries counted by reason', async () => {
    const id = await h.accept();
    const policy = { baseMs: 100, maxMs: 10_000 };
    h.sink.script(retryAll('http_5xx'), retryAll('network'), retryAll('timeout'));
    h.startWorker({ random: () => 0.5 });

    for (const [attempt, reason] of [[0, 'http_5xx'], [1, 'network'], [2, 'timeout']] as const) {
      await h.settledWith(id, (m) => m.attempts === attempt + 1 && m.state === 'pending', `attempt ${attempt + 1} recorded`);
      const m = await h.messageOf(id);
      // Settled at `clock`: due after exactly the backoff of this attempt (random fixed at 0.5).
      expect(m.nextAttemptAt).toBe(h.clock + retryDelayMs(attempt, policy, () => 0.5));
      expect(m.lastError).toBe(`${reason}: scripted ${reason}`);
      expect(await metricValue(h.metrics.registry, 'relay_delivery_retries_total', { reason })).toBe(1);
      expect(h.sink.sends).toHaveLength(attempt + 1);
      h.clock = m.nextAttemptAt!; // due now
    }
    expect([0, 1, 2].map((attempt) => retryDelayMs(attempt, policy, () => 0.5))).toEqual([100, 150, 250]);
    await h.settledWith(id, (m) => m.state === 'delivered', 'delivered at the fourth attempt');
    expect(await h.messageOf(id)).toMatchObject({ attempts: 4, state: 'delivered' });
  });

  it('is not retried before it is due', async () => {
    const id = await h.accept();
    h.sink.script(retryAll('http_5xx'));
    const claims = vi.spyOn(h.store, 'claimDue');
    h.startWorker();
    await h.settledWith(id, (m) => m.attempts === 1, 'first attempt');
    h.clock += 99;
    // The lane keeps looking for due work (several claims), and finds none one ms short of due.
    const before = claims.mock.calls.length;
    await waitFor(() => claims.mock.calls.length >= before + 3, { what: 'three more looks at the queue' });
    expect(h.sink.sends).toHaveLength(1);
    h.clock += 1;
    await h.settledWith(id, (m) => m.state === 'delivered', 'sent once due');
    expect(h.sink.sends).toHaveLength(2);
  });

  it('Retry-After: a floor on the next attempt, clamped to the longest retry delay, and passed to the rate limiter', async () => {
    const limiter = { acquire: vi.fn(async () => undefined), onThrottled: vi.fn(), onSuccess: vi.fn(), pausedMs: () => 0, factor: 1 };
    const a = await h.accept();
    h.sink.script(retryAll('http_429', 30_000));
    h.startWorker({ rateLimiter: limiter, options: { retry: { baseMs: 100, maxMs: 60_000 } } });
    await h.settledWith(a, (m) => m.attempts === 1, 'first 429');
    expect((await h.messageOf(a)).nextAttemptAt).toBe(h.clock + 30_000);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(30_000);

    // Adobe asking for ten hours: not believed past DELIVERY_RETRY_MAX_MS.
    const b = await h.accept();
    h.sink.script(retryAll('http_429', 10 * 3_600_000));
    await h.settledWith(b, (m) => m.attempts === 1, 'second 429');
    expect((await h.messageOf(b)).nextAttemptAt).toBe(h.clock + 60_000);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(60_000);

    // No Retry-After: the backoff alone, and the limiter slows down without a pause.
    const c = await h.accept();
    h.sink.script(retryAll('http_429'));
    await h.settledWith(c, (m) => m.attempts === 1, 'third 429');
    expect((await h.messageOf(c)).nextAttemptAt).toBe(h.clock + 100);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(undefined);
    expect(await metricValue(h.metrics.registry, 'relay_delivery_retries_total', { reason: 'http_429' })).toBe(3);
    expect(limiter.onSuccess).not.toHaveBeenCalled();
  });

  it('expired: still failing past maxAge -> dead-lettered as expired; a younger one is retried', async () => {
    const maxAgeMs = 7 * DAY;
    const old = await h.accept(['event'], T0 - maxAgeMs);
    const young = await h.accept(['event'], T0 - maxAgeMs + 1);
    h.sink.otherwise(retryAll('http_5xx'));
    h.startWorker({ options: { maxAgeMs } });
    await h.settledWith(old, (m) => m.state === 'dead', 'expired');
    await h.settledWith(young, (m) => m.attempts >= 1, 'young one attempted');
    expect(await h.messageOf(old)).toMatchObject({ state: 'dead', deadReason: 'expired', lastError: 'http_5xx: scripted http_5xx' });
    expect(await h.messageOf(young)).toMatchObject({ state: 'pending', deadReason: null });
    expect(await metricValue(h.metrics.registry, 'relay_messages_dead_lettered_total', { reason: 'expired' })).toBe(1);
    expect(await metricValue(h.metrics.registry, 'relay_delivery_retries_total', { reason: 'http_5xx' })).toBe(1);
  });
});

