import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, expect } from 'vitest';
import { createCircuitBreaker, type CircuitBreaker } from '../../src/delivery/circuit-breaker.js';
import { createDeliveryWorker, type DeliveryOptions, type DeliveryWorker } from '../../src/delivery/delivery-worker.js';
import { createRateLimiter, type RateLimiter } from '../../src/delivery/rate-limiter.js';
import type { Timer } from '../../src/delivery/timer.js';
import type { ClaimedMessage, MessageOutcome, RetryReason, Sink } from '../../src/delivery/types.js';
import { capillaryEvent } from '../store/store-contract.js';
import { XDM_CONTENT_TYPE, type MessageKind, type OutboundMessage } from '../../src/mapping/types.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import type { MessageView, Store } from '../../src/store/types.js';
import { ManualTimer } from './manual-timer.js';
import { waitFor } from './wait-for.js';

/**
 * The delivery worker on a real SQLite store (temp file) with a sink whose answers the test
 * scripts. `useWorkerHarness()` registers the hooks and gives the test its fixtures.
 */
export const T0 = 1_750_000_000_000;
export const DAY = 86_400_000;

export type Step = (batch: ClaimedMessage[], signal: AbortSignal) => MessageOutcome[] | Promise<MessageOutcome[]>;

export const deliverAll: Step = (batch) => batch.map((m) => ({ id: m.id, outcome: 'delivered' }));
export const retryAll =
  (reason: RetryReason, retryAfterMs?: number): Step =>
  (batch) =>
    batch.map((m) => ({ id: m.id, outcome: 'retry', reason, detail: `scripted ${reason}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }));
/** Waits until the worker aborts the send, then answers as the AEP sink does for an aborted request. */
export const untilAborted: Step = (batch, signal) =>
  new Promise((resolve) => {
    const answer = () => resolve(batch.map((m) => ({ id: m.id, outcome: 'retry', reason: 'network', detail: 'aborted before Adobe answered' })));
    if (signal.aborted) answer();
    else signal.addEventListener('abort', answer, { once: true });
  });

/** Records every batch it is given; answers each with the next scripted step (default: delivered). */
export class ScriptedSink implements Sink {
  readonly name = 'aep' as const;
  readonly sends: { ids: number[]; signal: AbortSignal }[] = [];
  private readonly steps: Step[] = [];
  private fallback: Step = deliverAll;
  private readonly inFlight = new Map<number, number>();
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

export function deliveryOptions(overrides: Partial<DeliveryOptions> = {}): DeliveryOptions {
  return {
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
  };
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

export interface WorkerHarness {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly sink: ScriptedSink;
  /** The worker's clock (a fixed, test-driven time unless a test passes `now: Date.now`). */
  clock: number;
  startWorker(overrides?: {
    options?: Partial<DeliveryOptions>;
    circuitBreaker?: CircuitBreaker;
    rateLimiter?: RateLimiter;
    now?: () => number;
    /** The worker's waits: real unless the test drives them (test/helpers/manual-timer.ts). */
    timer?: Timer;
    random?: () => number;
  }): DeliveryWorker;
  /** Stores an event with one message per kind given; resolves to its id. */
  accept(kinds?: MessageKind[], receivedAt?: number): Promise<string>;
  messagesOf(eventId: string): Promise<MessageView[]>;
  messageOf(eventId: string): Promise<MessageView>;
  settledWith(eventId: string, predicate: (m: MessageView) => boolean, what: string): Promise<unknown>;
}

export function useWorkerHarness(): WorkerHarness {
  let dir = '';
  let store: Store | undefined;
  let metrics: Metrics | undefined;
  let sink: ScriptedSink | undefined;
  let worker: DeliveryWorker | undefined;
  let timer: Timer | undefined;
  let seq = 0;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-worker-'));
    store = createSqliteStore({ path: join(dir, 'relay.db'), synchronous: 'normal' });
    metrics = createMetrics({ defaultMetrics: false });
    sink = new ScriptedSink();
    h.clock = T0;
  });
  afterEach(async () => {
    const stopped = worker?.stop(1_000);
    // Time a test drives by hand would never end the grace period (say a send the test left hanging).
    if (timer instanceof ManualTimer) timer.advance(1_000);
    await stopped;
    worker = undefined;
    timer = undefined;
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const h: WorkerHarness = {
    get store() {
      return store!;
    },
    get metrics() {
      return metrics!;
    },
    get sink() {
      return sink!;
    },
    clock: T0,
    startWorker(overrides = {}) {
      timer = overrides.timer;
      worker = createDeliveryWorker({
        store: store!,
        sink: sink!,
        metrics: metrics!,
        logger: pino({ level: 'silent' }),
        rateLimiter: overrides.rateLimiter ?? createRateLimiter({ requestsPerSecond: 1_000, messagesPerSecond: 10_000 }),
        circuitBreaker: overrides.circuitBreaker ?? createCircuitBreaker({ windowMs: 60_000, minRequests: 10, failureRatio: 0.7, openMs: 30_000 }),
        options: deliveryOptions(overrides.options),
        now: overrides.now ?? (() => h.clock),
        ...(overrides.timer ? { timer: overrides.timer } : {}),
        random: overrides.random ?? (() => 0.5),
      });
      worker.start();
      return worker;
    },
    async accept(kinds = ['event'], receivedAt = h.clock) {
      seq += 1;
      const eventId = `evt-${seq}`;
      const event = capillaryEvent({ eventId, receivedAt });
      const result = await store!.acceptEvent({
        event,
        payload: '{}',
        mapping: { status: 'mapped', messages: kinds.map((k, i) => outbound(k, `${eventId}-${i}`)), warnings: [] },
      });
      expect(result.outcome).toBe('accepted');
      return eventId;
    },
    async messagesOf(eventId) {
      const view = await store!.getEvent(eventId);
      if (!view) throw new Error(`no event ${eventId}`);
      return view.messages;
    },
    async messageOf(eventId) {
      const [message] = await h.messagesOf(eventId);
      return message!;
    },
    settledWith(eventId, predicate, what) {
      return waitFor(async () => (await h.messagesOf(eventId)).every(predicate), { what });
    },
  };
  return h;
}
