import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retryDelayMs } from '../../src/delivery/backoff.js';
import { createCircuitBreaker, type CircuitBreaker, type CircuitState } from '../../src/delivery/circuit-breaker.js';
import { createDeliveryWorker, type DeliveryOptions, type DeliveryWorker } from '../../src/delivery/delivery-worker.js';
import { createRateLimiter, type RateLimiter } from '../../src/delivery/rate-limiter.js';
import type { ClaimedMessage, MessageOutcome, RetryReason, Sink } from '../../src/delivery/types.js';
import type { CapillaryEvent } from '../../src/ingest/capillary-event.js';
import type { MessageKind, OutboundMessage } from '../../src/mapping/types.js';
import { XDM_CONTENT_TYPE } from '../../src/mapping/types.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import type { MessageView, Store } from '../../src/store/types.js';
import { metricValue } from '../helpers/metric-values.js';
import { waitFor } from '../helpers/wait-for.js';

const T0 = 1_750_000_000_000;
const DAY = 86_400_000;

// ---------------------------------------------------------------- a sink with scripted outcomes

type Step = (batch: ClaimedMessage[], signal: AbortSignal) => MessageOutcome[] | Promise<MessageOutcome[]>;

const deliverAll: Step = (batch) => batch.map((m) => ({ id: m.id, outcome: 'delivered' }));
const retryAll =
  (reason: RetryReason, retryAfterMs?: number): Step =>
  (batch) =>
    batch.map((m) => ({ id: m.id, outcome: 'retry', reason, detail: `scripted ${reason}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }));
/** Waits until the worker aborts the send, then answers as the AEP sink does for an aborted request. */
const untilAborted: Step = (batch, signal) =>
  new Promise((resolve) => {
    const answer = () => resolve(batch.map((m) => ({ id: m.id, outcome: 'retry', reason: 'network', detail: 'aborted before Adobe answered' })));
    if (signal.aborted) answer();
    else signal.addEventListener('abort', answer, { once: true });
  });

/** Records every batch it is given; answers each with the next scripted step (default: delivered). */
class ScriptedSink implements Sink {
  readonly name = 'aep' as const;
  readonly sends: { ids: number[]; signal: AbortSignal }[] = [];
  private readonly steps: Step[] = [];
  private fallback: Step = deliverAll;
  inFlight = new Map<number, number>();
  /** The most sends of one message that were ever in flight at the same time. */
  maxConcurrentPerMessage = 0;

  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }
  otherwise(step: Step): this {
    this.fallback = step;
    return this;
  }
  async send(batch: ClaimedMessage[], signal: AbortSignal): Promise<MessageOutcome[]> {
    this.sends.push({ ids: batch.map((m) => m.id), signal });
    for (const m of batch) {
      const n = (this.inFlight.get(m.id) ?? 0) + 1;
      this.inFlight.set(m.id, n);
      this.maxConcurrentPerMessage = Math.max(this.maxConcurrentPerMessage, n);
    }
    try {
      return await (this.steps.shift() ?? this.fallback)(batch, signal);
    } finally {
      for (const m of batch) this.inFlight.set(m.id, (this.inFlight.get(m.id) ?? 1) - 1);
    }
  }
  async readiness() {
    return { ok: true as const };
  }
  async close() {}
}

// ---------------------------------------------------------------- fixtures

let dir: string;
let store: Store;
let metrics: Metrics;
let sink: ScriptedSink;
let clock: number;
let worker: DeliveryWorker | undefined;
let seq = 0;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-worker-'));
  store = createSqliteStore({ path: join(dir, 'relay.db'), synchronous: 'normal' });
  metrics = createMetrics({ defaultMetrics: false });
  sink = new ScriptedSink();
  clock = T0;
});

afterEach(async () => {
  await worker?.stop(1_000);
  worker = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (overrides: Partial<DeliveryOptions> = {}): DeliveryOptions => ({
  owner: 'test-owner',
  batchMaxMessages: 10,
  batchMaxBytes: 1_000_000,
  lingerMs: 0,
  concurrency: 1,
  leaseMs: 30_000,
  pollIntervalMs: 10,
  retry: { baseMs: 100, maxMs: 10_000 },
  maxAgeMs: 7 * DAY,
  ...overrides,
});

function startWorker(
  overrides: {
    options?: Partial<DeliveryOptions>;
    circuitBreaker?: CircuitBreaker;
    rateLimiter?: RateLimiter;
    now?: () => number;
    random?: () => number;
  } = {},
): DeliveryWorker {
  worker = createDeliveryWorker({
    store,
    sink,
    metrics,
    logger: pino({ level: 'silent' }),
    rateLimiter: overrides.rateLimiter ?? createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000 }),
    circuitBreaker: overrides.circuitBreaker ?? createCircuitBreaker({ windowMs: 60_000, minRequests: 10, failureRatio: 0.7, openMs: 30_000 }),
    options: options(overrides.options),
    now: overrides.now ?? (() => clock),
    random: overrides.random ?? (() => 0.5),
  });
  worker.start();
  return worker;
}

function outbound(kind: MessageKind, id: string): OutboundMessage {
  const schemaRef = { id: `https://ns.adobe.com/t/schemas/${kind}`, contentType: XDM_CONTENT_TYPE };
  return {
    kind,
    sourceCreatedAt: T0,
    ...(kind === 'profile' ? { profileKey: `member-${id}` } : {}),
    message: { header: { schemaRef, datasetId: `ds-${kind}` }, body: { xdmMeta: { schemaRef }, xdmEntity: { _id: id, timestamp: new Date(T0).toISOString() } } },
  };
}

/** Stores an event with one message per kind given; resolves to its id. */
async function accept(kinds: MessageKind[] = ['event'], receivedAt = clock): Promise<string> {
  seq += 1;
  const eventId = `evt-${seq}`;
  const event: CapillaryEvent = {
    eventId,
    eventName: 'pointsIssued',
    createdAt: T0,
    receivedAt,
    orgId: '1',
    refId: undefined,
    apiRequestId: undefined,
    eventLogId: undefined,
    loyaltyEventId: undefined,
    envelope: 'flat',
    data: {},
  };
  const result = await store.acceptEvent({
    event,
    payload: '{}',
    mapping: { status: 'mapped', messages: kinds.map((k, i) => outbound(k, `${eventId}-${i}`)), warnings: [] },
  });
  expect(result.outcome).toBe('accepted');
  return eventId;
}

async function messagesOf(eventId: string): Promise<MessageView[]> {
  const view = await store.getEvent(eventId);
  if (!view) throw new Error(`no event ${eventId}`);
  return view.messages;
}
async function messageOf(eventId: string): Promise<MessageView> {
  const [message] = await messagesOf(eventId);
  return message!;
}
const settledWith = (eventId: string, predicate: (m: MessageView) => boolean, what: string) =>
  waitFor(async () => (await messagesOf(eventId)).every(predicate), { what });

// ---------------------------------------------------------------- tests

describe('delivery worker: outcomes', () => {
  it('delivered: recorded once, counted by kind, latency from acceptance observed', async () => {
    const a = await accept(['event', 'profile'], T0 - 5_000);
    const b = await accept(['event', 'profile'], T0 - 5_000);
    startWorker();
    for (const id of [a, b]) await settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    for (const id of [a, b]) for (const m of await messagesOf(id)) expect(m).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: T0, lastError: null });
    expect(await metricValue(metrics.registry, 'relay_messages_delivered_total', { kind: 'event' })).toBe(2);
    expect(await metricValue(metrics.registry, 'relay_messages_delivered_total', { kind: 'profile' })).toBe(2);
    expect(await metricValue(metrics.registry, 'relay_event_delivery_latency_seconds_count')).toBe(4);
    expect(await metricValue(metrics.registry, 'relay_event_delivery_latency_seconds_sum')).toBe(20);
    expect(sink.sends.flatMap((s) => s.ids)).toHaveLength(4);
  });

  it('rejected: dead-lettered with the reason and Adobe\'s detail, never retried', async () => {
    const bad = await accept();
    const good = await accept();
    const badMessage = await messageOf(bad);
    sink.script((batch) =>
      batch.map((m): MessageOutcome => (m.id === badMessage.id ? { id: m.id, outcome: 'rejected', reason: 'invalid_xdm', detail: '400: Missing required field: timestamp' } : { id: m.id, outcome: 'delivered' })),
    );
    startWorker();
    await settledWith(bad, (m) => m.state === 'dead', 'dead letter');
    await settledWith(good, (m) => m.state === 'delivered', 'the good one delivered');
    expect(await messageOf(bad)).toMatchObject({ state: 'dead', deadReason: 'invalid_xdm', lastError: '400: Missing required field: timestamp', attempts: 1 });
    const [letter] = await store.listDeadLetters({ limit: 10 });
    expect(letter).toMatchObject({ eventId: bad, reason: 'invalid_xdm', error: '400: Missing required field: timestamp' });
    expect(await metricValue(metrics.registry, 'relay_messages_dead_lettered_total', { reason: 'invalid_xdm' })).toBe(1);
    expect(await metricValue(metrics.registry, 'relay_delivery_retries_total')).toBe(0);
    expect(sink.sends).toHaveLength(1);
  });

  it('retry: next attempt after the backoff for the attempt count, which grows; retries counted by reason', async () => {
    const id = await accept();
    const policy = { baseMs: 100, maxMs: 10_000 };
    sink.script(retryAll('http_5xx'), retryAll('network'), retryAll('timeout'));
    startWorker({ random: () => 0.5 });

    for (const [attempt, reason] of [[0, 'http_5xx'], [1, 'network'], [2, 'timeout']] as const) {
      await settledWith(id, (m) => m.attempts === attempt + 1 && m.state === 'pending', `attempt ${attempt + 1} recorded`);
      const m = await messageOf(id);
      // Settled at `clock`: due after exactly the backoff of this attempt (random fixed at 0.5).
      expect(m.nextAttemptAt).toBe(clock + retryDelayMs(attempt, policy, () => 0.5));
      expect(m.lastError).toBe(`${reason}: scripted ${reason}`);
      expect(await metricValue(metrics.registry, 'relay_delivery_retries_total', { reason })).toBe(1);
      expect(sink.sends).toHaveLength(attempt + 1);
      clock = m.nextAttemptAt!; // due now
    }
    expect([100, 150, 250].map((d, i) => retryDelayMs(i, policy, () => 0.5))).toEqual([100, 150, 250]);
    await settledWith(id, (m) => m.state === 'delivered', 'delivered at the fourth attempt');
    expect(await messageOf(id)).toMatchObject({ attempts: 4, state: 'delivered' });
  });

  it('is not retried before it is due', async () => {
    const id = await accept();
    sink.script(retryAll('http_5xx'));
    const claims = vi.spyOn(store, 'claimDue');
    startWorker();
    await settledWith(id, (m) => m.attempts === 1, 'first attempt');
    clock += 99;
    // The lane keeps looking for due work (several claims), and finds none one ms short of due.
    const before = claims.mock.calls.length;
    await waitFor(() => claims.mock.calls.length >= before + 3, { what: 'three more looks at the queue' });
    expect(sink.sends).toHaveLength(1);
    clock += 1;
    await settledWith(id, (m) => m.state === 'delivered', 'sent once due');
    expect(sink.sends).toHaveLength(2);
  });

  it('Retry-After: a floor on the next attempt, clamped to the longest retry delay, and passed to the rate limiter', async () => {
    const limiter = { acquire: vi.fn(async () => undefined), onThrottled: vi.fn(), onSuccess: vi.fn(), pausedMs: () => 0, factor: 1 };
    const a = await accept();
    sink.script(retryAll('http_429', 30_000));
    startWorker({ rateLimiter: limiter, options: { retry: { baseMs: 100, maxMs: 60_000 } } });
    await settledWith(a, (m) => m.attempts === 1, 'first 429');
    expect((await messageOf(a)).nextAttemptAt).toBe(clock + 30_000);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(30_000);

    // Adobe asking for ten hours: not believed past DELIVERY_RETRY_MAX_MS.
    const b = await accept();
    sink.script(retryAll('http_429', 10 * 3_600_000));
    await settledWith(b, (m) => m.attempts === 1, 'second 429');
    expect((await messageOf(b)).nextAttemptAt).toBe(clock + 60_000);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(60_000);

    // No Retry-After: the backoff alone, and the limiter slows down without a pause.
    const c = await accept();
    sink.script(retryAll('http_429'));
    await settledWith(c, (m) => m.attempts === 1, 'third 429');
    expect((await messageOf(c)).nextAttemptAt).toBe(clock + 100);
    expect(limiter.onThrottled).toHaveBeenLastCalledWith(undefined);
    expect(await metricValue(metrics.registry, 'relay_delivery_retries_total', { reason: 'http_429' })).toBe(3);
    expect(limiter.onSuccess).not.toHaveBeenCalled();
  });

  it('expired: still failing past maxAge -> dead-lettered as expired; a younger one is retried', async () => {
    const maxAgeMs = 7 * DAY;
    const old = await accept(['event'], T0 - maxAgeMs);
    const young = await accept(['event'], T0 - maxAgeMs + 1);
    sink.otherwise(retryAll('http_5xx'));
    startWorker({ options: { maxAgeMs } });
    await settledWith(old, (m) => m.state === 'dead', 'expired');
    await settledWith(young, (m) => m.attempts >= 1, 'young one attempted');
    expect(await messageOf(old)).toMatchObject({ state: 'dead', deadReason: 'expired', lastError: 'http_5xx: scripted http_5xx' });
    expect(await messageOf(young)).toMatchObject({ state: 'pending', deadReason: null });
    expect(await metricValue(metrics.registry, 'relay_messages_dead_lettered_total', { reason: 'expired' })).toBe(1);
    expect(await metricValue(metrics.registry, 'relay_delivery_retries_total', { reason: 'http_5xx' })).toBe(1);
  });
});

describe('delivery worker: circuit breaker', () => {
  it('circuit opening mid-claim: the unsent rest is released with no attempt counted, sent later', async () => {
    const ids = [await accept(), await accept(), await accept(), await accept()];
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
    startWorker({ circuitBreaker: stub, options: { batchMaxBytes: 1 } });
    await waitFor(() => refused > 0, { what: 'the breaker refusing' });
    await waitFor(async () => (await Promise.all(ids.map(messageOf))).filter((m) => m.state === 'pending').length === 3, { what: 'three released' });
    const messages = await Promise.all(ids.map(messageOf));
    expect(messages[0]).toMatchObject({ state: 'delivered', attempts: 1 });
    for (const m of messages.slice(1)) expect(m).toMatchObject({ state: 'pending', attempts: 0, nextAttemptAt: clock, lastError: null });
    expect(sink.sends).toHaveLength(1);

    allow = Infinity;
    for (const id of ids) await settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
    for (const id of ids) expect((await messageOf(id)).attempts).toBe(1);
    expect(await metricValue(metrics.registry, 'relay_delivery_retries_total')).toBe(0);
  });

  it('a failing endpoint opens the circuit: no request while open, one probe, then everything is delivered', async () => {
    const states: { state: CircuitState; sends: number }[] = [];
    const breaker = createCircuitBreaker({
      windowMs: 60_000,
      minRequests: 10,
      failureRatio: 0.7,
      openMs: 200,
      onChange: (state) => states.push({ state, sends: sink.sends.length }),
    });
    clock = Date.now(); // this test runs on the real clock
    const ids = await Promise.all(Array.from({ length: 12 }, () => accept()));
    // Fail until the circuit opens; the probe and everything after succeed.
    sink.otherwise((batch, signal) => (states.length >= 2 ? deliverAll(batch, signal) : retryAll('http_5xx')(batch, signal)));
    // One message per request, no backoff to speak of: ten failures come quickly.
    startWorker({ circuitBreaker: breaker, options: { batchMaxMessages: 1, retry: { baseMs: 1, maxMs: 1 } }, now: Date.now });
    for (const id of ids) await settledWith(id, (m) => m.state === 'delivered', `${id} delivered`);
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
    clock = Date.now(); // this test runs on the real clock
    const id = await accept();
    const leaseMs = 1_000;
    const leaseEnds: { abortedAt: number; leaseEnd: number | null }[] = [];
    sink.script(
      (batch, signal) =>
        new Promise((resolve) => {
          signal.addEventListener(
            'abort',
            () => {
              void store.getEvent(id).then((view) => {
                leaseEnds.push({ abortedAt: Date.now(), leaseEnd: view?.messages[0]?.nextAttemptAt ?? null });
                resolve(batch.map((m) => ({ id: m.id, outcome: 'retry', reason: 'network', detail: 'aborted before Adobe answered' })));
              });
            },
            { once: true },
          );
          // Without the lease deadline this send would hang until the test gave up on it.
          setTimeout(() => resolve(deliverAll(batch, signal)), 5_000);
        }),
    );
    startWorker({ options: { concurrency: 2, leaseMs, retry: { baseMs: 1, maxMs: 1 } }, now: Date.now });
    await settledWith(id, (m) => m.state === 'delivered', 'delivered after the aborted attempt');
    expect(leaseEnds).toHaveLength(1);
    const [{ abortedAt, leaseEnd }] = leaseEnds as [(typeof leaseEnds)[0]];
    expect(leaseEnd).not.toBeNull();
    expect(abortedAt).toBeLessThan(leaseEnd!);
    expect(sink.maxConcurrentPerMessage).toBe(1);
    expect(await messageOf(id)).toMatchObject({ attempts: 2 });
  });

  it('waiting on the rate limiter past the lease: the messages are released unsent', async () => {
    clock = Date.now(); // this test runs on the real clock
    const id = await accept();
    let waits = 0;
    const limiter: RateLimiter = {
      acquire: (_n, signal) =>
        new Promise<void>((resolve) => {
          waits += 1;
          if (waits > 1) return resolve();
          signal?.addEventListener('abort', () => resolve(), { once: true });
        }),
      onThrottled: () => undefined,
      onSuccess: () => undefined,
      pausedMs: () => 0,
      factor: 1,
    };
    startWorker({ rateLimiter: limiter, options: { leaseMs: 1_000 }, now: Date.now });
    await settledWith(id, (m) => m.state === 'delivered', 'delivered after the release');
    expect(waits).toBe(2);
    expect(sink.sends).toHaveLength(1);
    expect(await messageOf(id)).toMatchObject({ attempts: 1 });
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
    const id = await accept();
    const claims = vi.spyOn(store, 'claimDue');
    startWorker({ rateLimiter: limiter });
    await waitFor(() => looks >= 3, { what: 'the lane asking three times' });
    expect(claims).not.toHaveBeenCalled();
    paused = 0;
    await settledWith(id, (m) => m.state === 'delivered', 'delivered once the pause is over');
  });
});

describe('delivery worker: stop()', () => {
  it('waits for a batch in flight to finish within the grace period', async () => {
    const id = await accept();
    let finish: () => void = () => undefined;
    const started = new Promise<void>((resolveStarted) => {
      sink.script(
        (batch) =>
          new Promise((resolve) => {
            resolveStarted();
            finish = () => resolve(deliverAll(batch, new AbortController().signal));
          }),
      );
    });
    const w = startWorker();
    await started;
    let stopped = false;
    const stopping = w.stop(10_000).then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(await messageOf(id)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(sink.sends[0]!.signal.aborted).toBe(false);
  });

  it('aborts what is still in flight after the grace period; the message is retried later, nothing lost', async () => {
    const id = await accept();
    sink.script(untilAborted);
    const w = startWorker();
    await waitFor(() => sink.sends.length === 1, { what: 'send started' });
    await w.stop(50);
    expect(sink.sends[0]!.signal.aborted).toBe(true);
    expect(await messageOf(id)).toMatchObject({ state: 'pending', attempts: 1, lastError: 'network: aborted before Adobe answered' });
    // Stopped means stopped: new work is not picked up, and stopping again is harmless.
    await accept();
    await w.stop(50);
    expect(sink.sends).toHaveLength(1);
  });

  it('stop() before start() and twice is harmless', async () => {
    const w = createDeliveryWorker({
      store,
      sink,
      metrics,
      logger: pino({ level: 'silent' }),
      rateLimiter: createRateLimiter({ requestsPerSecond: 10, messagesPerSecond: 10 }),
      circuitBreaker: createCircuitBreaker({ windowMs: 1_000, minRequests: 10, failureRatio: 0.7, openMs: 1_000 }),
      options: options(),
    });
    await w.stop(10);
    w.start();
    await w.stop(10);
    await w.stop(10);
  });
});
