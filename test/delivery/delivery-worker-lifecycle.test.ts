import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createCircuitBreaker, type CircuitBreaker, type CircuitState } from '../../src/delivery/circuit-breaker.js';
import { createDeliveryWorker } from '../../src/delivery/delivery-worker.js';
import { createRateLimiter, type RateLimiter } from '../../src/delivery/rate-limiter.js';
import { deliverAll, deliveryOptions, retryAll, T0, untilAborted, useWorkerHarness } from '../helpers/delivery-worker-harness.js';
import { ManualTimer } from '../helpers/manual-timer.js';
import { metricValue } from '../helpers/metric-values.js';
import { waitFor } from '../helpers/wait-for.js';

/** The worker's lifecycle on a real SQLite store: circuit breaker, leases, Retry-After pauses, stop(). */
const h = useWorkerHarness();

describe('delivery worker: circuit breaker', () => {
  it('circuit opening mid-claim: the unsent rest is released with no attempt counted, sent later', async () => {
    const ids = [await h.accept(), await h.accept(), await h.accept(), await h.accept()];
    let allow = 1;
    let refused = 0;
    const stub: CircuitBreaker = {
      // Blocked once it refused: like the real breaker, an open circuit makes lanes wait before claiming.
      waitMs: () => (refused > 0 && allow <= 0 ? 20 : 0),
      begin: () => {
        if (allow === Infinity || allow-- > 0) return true;
        refused += 1;
        return false;
      },
      record: () => undefined,
      state: 'closed',
    };
    // One message per request: four batches from one claim.
    h.startWorker({ circuitBreaker: stub, options: { batchMaxBytes: 1 } });
    await waitFor(() => refused > 0, { what: 'the breaker refusing' });
    await waitFor(async () => (await Promise.all(ids.map((id) => h.messageOf(id)))).filter((m) => m.state === 'pending').length === 3, { what: 'three released' });
    const messages = await Promise.all(ids.map((id) => h.messageOf(id)));
    expect(messages[0]).toMatchObject({ state: 'delivered', attempts: 1 });
    for (const m of messages.slice(1)) expect(m).toMatchObject({ state: 'pending', attempts: 0, nextAttemptAt: h.clock, lastError: null });
    expect(h.sink.sends).toHaveLength(1);

    allow = Infinity;
    for (const id of ids) await h.settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    for (const id of ids) expect((await h.messageOf(id)).attempts).toBe(1);
    expect(await metricValue(h.metrics.registry, 'relay_delivery_retries_total')).toBe(0);
  });

  it('a batch claimed while the circuit was closed goes out as a probe of one message when it has become the probe', async () => {
    const ids = [await h.accept(), await h.accept(), await h.accept(), await h.accept()];
    // Closed when the lane claims; between its claim and its send the circuit opened and its pause
    // ran out, so the lane's begin() takes the half-open probe slot (the real breaker's state then).
    let state: CircuitState = 'closed';
    let probes = 0;
    const stub: CircuitBreaker = {
      waitMs: () => 0,
      begin: () => {
        if (probes === 0) state = 'half_open';
        return true;
      },
      record: () => {
        probes += 1;
        state = 'closed';
      },
      get state() {
        return state;
      },
    };
    h.startWorker({ circuitBreaker: stub });
    for (const id of ids) await h.settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    // The probe carried the oldest message alone; the other three were given back (no attempt) and sent after it.
    expect(h.sink.sends[0]!.ids).toEqual([(await h.messageOf(ids[0]!)).id]);
    expect(h.sink.sends.slice(1).flatMap((send) => send.ids)).toHaveLength(3);
    for (const id of ids) expect((await h.messageOf(id)).attempts).toBe(1);
  });

  it('a failing endpoint opens the circuit: no request while open, one probe, then everything is delivered', async () => {
    const states: { state: CircuitState; sends: number }[] = [];
    const breaker = createCircuitBreaker({
      windowMs: 60_000,
      minRequests: 10,
      failureRatio: 0.7,
      openMs: 200,
      onChange: (state) => states.push({ state, sends: h.sink.sends.length }),
    });
    h.clock = Date.now(); // this test runs on the real clock
    const ids = await Promise.all(Array.from({ length: 12 }, () => h.accept()));
    // Fail until the circuit opens; the probe and everything after succeed.
    h.sink.otherwise((batch, signal) => (states.length >= 2 ? deliverAll(batch, signal) : retryAll('http_5xx')(batch, signal)));
    // One message per request, no backoff to speak of: ten failures come quickly.
    h.startWorker({ circuitBreaker: breaker, options: { batchMaxMessages: 1, retry: { baseMs: 1, maxMs: 1 } }, now: Date.now });
    for (const id of ids) await h.settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    expect(states.map((s) => s.state)).toEqual(['open', 'half_open', 'closed']);
    const [opened, probing] = [states[0]!, states[1]!];
    // Nothing was sent while open; the probe was the only request until it came back.
    expect(probing.sends).toBe(opened.sends);
    expect(states[2]!.sends).toBe(opened.sends + 1);
    expect(opened.sends).toBe(10);
  });
});

describe('delivery worker: leases', () => {
  it('a send outlasting the lease is aborted and settled before the lease runs out: never two sends at once', async () => {
    const timer = new ManualTimer(T0);
    const id = await h.accept();
    const leaseMs = 1_000;
    let abortedAt: number | undefined;
    // Without the lease deadline this send would hang until the test gave up on it.
    h.sink.script((batch, signal) => {
      signal.addEventListener('abort', () => (abortedAt = timer.now()), { once: true });
      return untilAborted(batch, signal);
    });
    h.startWorker({ options: { concurrency: 2, leaseMs, retry: { baseMs: 1, maxMs: 1 } }, now: () => timer.now(), timer });
    await waitFor(() => h.sink.sends.length === 1, { what: 'the send under way' });
    const leaseEnd = (await h.messageOf(id)).nextAttemptAt!;
    expect(leaseEnd).toBe(T0 + leaseMs);
    // Time stops one ms short of the lease's end: by then the send must be cut short and its outcome recorded.
    timer.advance(leaseMs - 1);
    await h.settledWith(id, (m) => m.state === 'pending' && m.attempts === 1, 'the aborted attempt recorded while the lease lasts');
    expect(abortedAt).toBeLessThan(leaseEnd);
    expect(await h.messageOf(id)).toMatchObject({ lastError: 'network: aborted before Adobe answered' });
    // Both lanes parked (no lease timer left): past the retry delay the message goes again, once.
    await waitFor(() => timer.sleepers === 2, { what: 'both lanes idle' });
    timer.advance(10);
    await h.settledWith(id, (m) => m.state === 'delivered', 'delivered after the aborted attempt');
    expect(h.sink.maxConcurrentPerMessage).toBe(1);
    expect(await h.messageOf(id)).toMatchObject({ attempts: 2 });
  });

  it('a batch split off by size waiting on the rate limiter past the lease: released unsent before the lease runs out', async () => {
    const timer = new ManualTimer(T0);
    const first = await h.accept();
    const second = await h.accept();
    let waits = 0;
    const limiter: RateLimiter = {
      // The first wait admits the claim (and its first batch); the second, for the batch split off
      // by size, lasts until the lease's deadline aborts it.
      acquire: (_n, signal) =>
        new Promise<undefined>((resolve) => {
          waits += 1;
          if (waits !== 2) return resolve(undefined);
          signal?.addEventListener('abort', () => resolve(undefined), { once: true });
        }),
      onThrottled: () => undefined,
      onSuccess: () => undefined,
      pausedMs: () => 0,
      factor: 1,
    };
    // One message per request: two batches from one claim.
    h.startWorker({ rateLimiter: limiter, options: { leaseMs: 1_000, batchMaxBytes: 1 }, now: () => timer.now(), timer });
    await h.settledWith(first, (m) => m.state === 'delivered', 'the first batch delivered');
    await waitFor(() => waits === 2, { what: 'the second batch waiting on the rate limiter' });
    // One ms short of the lease's end: released (due at once), claimed again and sent, time standing still.
    timer.advance(999);
    await h.settledWith(second, (m) => m.state === 'delivered', 'delivered after the release');
    expect(h.sink.sends.map((send) => send.ids.length)).toEqual([1, 1]);
    expect(await h.messageOf(first)).toMatchObject({ attempts: 1 });
    expect(await h.messageOf(second)).toMatchObject({ attempts: 1 });
  });

  it('claims only once the rate limiter admits a batch, so no claimed message waits on it in memory', async () => {
    const id = await h.accept();
    const acquired: number[] = [];
    const resized: number[] = [];
    let admit: () => void = () => undefined;
    const limiter: RateLimiter = {
      acquire: (messages) =>
        new Promise((resolve) => {
          acquired.push(messages);
          const permit = { resize: (n: number) => void resized.push(n) };
          if (acquired.length === 1) admit = () => resolve(permit);
          else resolve(permit);
        }),
      onThrottled: () => undefined,
      onSuccess: () => undefined,
      pausedMs: () => 0,
      factor: 1,
    };
    const claims = vi.spyOn(h.store, 'claimDue');
    h.startWorker({ rateLimiter: limiter, options: { batchMaxMessages: 10 } });
    await waitFor(() => acquired.length === 1, { what: 'the lane asking the rate limiter' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(claims).not.toHaveBeenCalled();
    expect(await h.messageOf(id)).toMatchObject({ state: 'pending', attempts: 0 });
    admit();
    await h.settledWith(id, (m) => m.state === 'delivered', 'delivered once admitted');
    // Admitted for a full batch, counted as the one message the claim found.
    expect(acquired[0]).toBe(10);
    expect(resized[0]).toBe(1);
    expect(h.sink.sends).toHaveLength(1);
  });

  it('a Retry-After holds back the other lanes too (real rate limiter)', async () => {
    const timer = new ManualTimer(T0);
    const rateLimiter = createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000, now: () => timer.now(), sleep: (ms, signal) => timer.sleep(ms, signal) });
    const first = await h.accept();
    const sentAt: number[] = [];
    h.sink.otherwise((batch, signal) => {
      sentAt.push(timer.now());
      return deliverAll(batch, signal);
    });
    h.sink.script(retryAll('http_429', 300));
    const lanes = 3;
    h.startWorker({ rateLimiter, options: { concurrency: lanes, retry: { baseMs: 10, maxMs: 1_000 } }, now: () => timer.now(), timer });
    await h.settledWith(first, (m) => m.attempts === 1, 'the 429 recorded');
    // New work for the idle lanes: they wake, see the pause and wait it out without sending.
    const others = [await h.accept(), await h.accept(), await h.accept()];
    await waitFor(() => timer.sleepers === lanes, { what: 'every lane waiting' });
    timer.advance(299);
    await waitFor(() => timer.sleepers === lanes, { what: 'every lane still waiting' });
    expect(h.sink.sends).toHaveLength(1);
    timer.advance(1);
    for (const id of [first, ...others]) await h.settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    expect(sentAt.length).toBeGreaterThan(0);
    for (const t of sentAt) expect(t).toBe(T0 + 300);
  });

  it("does not claim while Adobe's Retry-After pause lasts", async () => {
    let paused = 20;
    let looks = 0;
    const limiter: RateLimiter = {
      acquire: async () => undefined,
      onThrottled: () => undefined,
      onSuccess: () => undefined,
      pausedMs: () => {
        looks += 1;
        return paused;
      },
      factor: 1,
    };
    const id = await h.accept();
    const claims = vi.spyOn(h.store, 'claimDue');
    h.startWorker({ rateLimiter: limiter });
    await waitFor(() => looks >= 3, { what: 'the lane asking three times' });
    expect(claims).not.toHaveBeenCalled();
    paused = 0;
    await h.settledWith(id, (m) => m.state === 'delivered', 'delivered once the pause is over');
  });
});

describe('delivery worker: stop()', () => {
  it('waits for a batch in flight to finish within the grace period', async () => {
    const id = await h.accept();
    let finish: () => void = () => undefined;
    const started = new Promise<void>((resolveStarted) => {
      h.sink.script(
        (batch) =>
          new Promise((resolve) => {
            resolveStarted();
            finish = () => resolve(deliverAll(batch, new AbortController().signal));
          }),
      );
    });
    const w = h.startWorker();
    await started;
    let stopped = false;
    const stopping = w.stop(10_000).then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(await h.messageOf(id)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(h.sink.sends[0]!.signal.aborted).toBe(false);
  });

  it('aborts what is still in flight after the grace period; the message is retried later, nothing lost', async () => {
    const id = await h.accept();
    h.sink.script(untilAborted);
    const w = h.startWorker();
    await waitFor(() => h.sink.sends.length === 1, { what: 'send started' });
    await w.stop(50);
    expect(h.sink.sends[0]!.signal.aborted).toBe(true);
    expect(await h.messageOf(id)).toMatchObject({ state: 'pending', attempts: 1, lastError: 'network: aborted before Adobe answered' });
    // Stopped means stopped: new work is not picked up, and stopping again is harmless.
    await h.accept();
    await w.stop(50);
    expect(h.sink.sends).toHaveLength(1);
  });

  it('stop() before start() and twice is harmless', async () => {
    const w = createDeliveryWorker({
      store: h.store,
      sink: h.sink,
      metrics: h.metrics,
      logger: pino({ level: 'silent' }),
      rateLimiter: createRateLimiter({ requestsPerSecond: 10, messagesPerSecond: 10 }),
      circuitBreaker: createCircuitBreaker({ windowMs: 1_000, minRequests: 10, failureRatio: 0.7, openMs: 1_000 }),
      options: deliveryOptions(),
    });
    await w.stop(10);
    w.start();
    await w.stop(10);
    await w.stop(10);
  });
});

describe('delivery worker: batching a shallow queue', () => {
  it('lets webhooks arriving within the linger period share one batch, across lanes', async () => {
    const timer = new ManualTimer(T0);
    const lanes = 4;
    const allParked = (what: string) => waitFor(() => timer.sleepers === lanes, { what });
    h.sink.script(deliverAll);
    h.startWorker({ options: { lingerMs: 300, concurrency: lanes, batchMaxMessages: 100 }, timer });
    const first = await h.accept();
    await allParked('the lanes lingering after their empty claims');
    timer.advance(300);
    await h.settledWith(first, (m) => m.state === 'delivered', 'the lone first event, sent once the linger ends');
    // Ten more arrive while the lanes leave the shallow queue to fill: nothing goes until the linger ends, then one batch, not ten.
    const rest = [];
    for (let i = 0; i < 10; i += 1) rest.push(await h.accept());
    await allParked('the lanes lingering again');
    expect(h.sink.sends).toHaveLength(1);
    timer.advance(300);
    for (const id of rest) await h.settledWith(id, (m) => m.state === 'delivered', 'the ten later events');
    expect(h.sink.sends.map((s) => s.ids.length)).toEqual([1, 10]);
  });
});

describe('delivery worker: the store failing to record an outcome', () => {
  it('retries the settlement while the lease lasts, so an accepted batch is not sent again', async () => {
    const id = await h.accept();
    let failures = 2;
    const store = h.store;
    const flaky = {
      ...store,
      settle: (...args: Parameters<typeof store.settle>) => (failures-- > 0 ? Promise.reject(new Error('store briefly unreachable')) : store.settle(...args)),
    } as typeof store;
    h.sink.script(deliverAll);
    const worker = createDeliveryWorker({
      store: flaky,
      sink: h.sink,
      metrics: h.metrics,
      logger: pino({ level: 'silent' }),
      rateLimiter: createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000 }),
      circuitBreaker: createCircuitBreaker({ windowMs: 60_000, minRequests: 10, failureRatio: 0.7, openMs: 30_000 }),
      options: deliveryOptions({ leaseMs: 30_000 }),
      now: () => h.clock,
    });
    worker.start();
    await h.settledWith(id, (m) => m.state === 'delivered', 'delivered once the store answers again');
    await worker.stop(1_000);
    expect(failures).toBeLessThan(0);
    expect(h.sink.sends).toHaveLength(1);
  });
});
