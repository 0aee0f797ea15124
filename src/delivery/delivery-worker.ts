import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { AttemptDetail } from '../store/console-types.js';
import type { Settlement, Store } from '../store/types.js';
import { recordSettlements, withBatchSpan } from '../tracing/delivery-spans.js';
import { retryDelayMs } from './backoff.js';
import { packBatches } from './batcher.js';
import type { CircuitBreaker, CircuitState } from './circuit-breaker.js';
import type { RateLimiter } from './rate-limiter.js';
import { realTimer, type Timer } from './timer.js';
import type { ClaimedMessage, MessageOutcome, RetryReason, Sink } from './types.js';
import { createWaker } from './waker.js';

export interface DeliveryOptions {
  /** This process's lease owner id: unique per process, so a restarted process never settles old leases. */
  owner: string;
  batchMaxMessages: number;
  batchMaxBytes: number;
  lingerMs: number;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  retry: { baseMs: number; maxMs: number };
  /** A message still failing this long after acceptance is dead-lettered as `expired`. */
  maxAgeMs: number;
  /**
   * The route this worker delivers for (issue 13): it claims only that route's messages, so a route
   * whose Adobe is down or behind never holds up another's. Unset: every message (tests).
   */
  route?: string;
  /** The `route` metric label; unset leaves it out (the environment's single route, as before routes). */
  metricRoute?: string;
}

export interface DeliveryWorker {
  start(): void;
  /** Stops claiming; lets batches in flight finish within `graceMs`, then aborts them (they are retried later). */
  stop(graceMs: number): Promise<void>;
}

/** Failures that say the endpoint is unwell (they feed the circuit breaker); a 429 says it is alive. */
const ENDPOINT_FAILURES: ReadonlySet<RetryReason> = new Set(['http_5xx', 'network', 'timeout']);

export function createDeliveryWorker(deps: {
  store: Store;
  sink: Sink;
  metrics: Metrics;
  logger: Logger;
  rateLimiter: RateLimiter;
  circuitBreaker: CircuitBreaker;
  options: DeliveryOptions;
  /** Wall-clock time, stored with messages (acceptance, leases, next attempts). */
  now?: () => number;
  /** Every wait of the worker, and the monotonic clock of its linger (tests drive it by hand). */
  timer?: Timer;
  random?: () => number;
}): DeliveryWorker {
  const { store, sink, metrics, logger, rateLimiter, circuitBreaker, options } = deps;
  const labels = options.metricRoute !== undefined ? { route: options.metricRoute } : {};
  const now = deps.now ?? Date.now;
  const timer = deps.timer ?? realTimer;
  const waker = createWaker(timer);
  const abort = new AbortController();
  /** Fires as soon as stop() is called, ending linger pauses at once. */
  const stopping = new AbortController();
  /** Until when lanes leave a shallow queue to fill up (see the lane loop). */
  let shallowUntil = 0;
  let running = false;
  let lanes: Promise<void>[] = [];
  let unsubscribe: (() => void) | undefined;

  const toSettlement = (message: ClaimedMessage, outcome: MessageOutcome, at: number): Settlement => {
    const settlement = settlementOf(message, outcome, at);
    if (!outcome.request || settlement.outcome === 'release') return settlement;
    // The message's attempt history (issue 14): Adobe's xactionId on success, its answer otherwise.
    const { request } = outcome;
    const attempt: AttemptDetail = { at: request.at, durationMs: request.durationMs, status: request.status, batchSize: request.batchSize };
    if (request.xactionId !== undefined) attempt.xactionId = request.xactionId;
    if (outcome.outcome !== 'delivered') attempt.error = outcome.detail;
    settlement.attempt = attempt;
    return settlement;
  };

  const settlementOf = (message: ClaimedMessage, outcome: MessageOutcome, at: number): Settlement => {
    switch (outcome.outcome) {
      case 'delivered':
        metrics.messagesDelivered.inc({ kind: message.kind, ...labels });
        metrics.eventDeliveryLatency.observe(labels, Math.max(0, at - message.acceptedAt) / 1000);
        return { id: message.id, outcome: 'delivered' };
      case 'rejected':
        metrics.messagesDeadLettered.inc({ reason: outcome.reason, ...labels });
        logger.error({ messageId: message.id, eventId: message.eventId, reason: outcome.reason, detail: outcome.detail }, 'message rejected by Adobe: dead-lettered');
        return { id: message.id, outcome: 'dead', reason: outcome.reason, error: outcome.detail };
      case 'retry': {
        if (at - message.acceptedAt >= options.maxAgeMs) {
          metrics.messagesDeadLettered.inc({ reason: 'expired', ...labels });
          logger.error({ messageId: message.id, eventId: message.eventId, lastReason: outcome.reason }, 'message still failing past the retry window: dead-lettered as expired');
          return { id: message.id, outcome: 'dead', reason: 'expired', error: `${outcome.reason}: ${outcome.detail}` };
        }
        metrics.deliveryRetries.inc({ reason: outcome.reason, ...labels });
        const delay = retryDelayMs(message.attempts, options.retry, deps.random, outcome.retryAfterMs);
        return { id: message.id, outcome: 'retry', nextAttemptAt: at + delay, error: `${outcome.reason}: ${outcome.detail}` };
      }
    }
  };

  const release = async (messages: ClaimedMessage[]) => {
    if (messages.length === 0) return;
    const at = now();
    await store.settle(options.owner, messages.map((m) => ({ id: m.id, outcome: 'release', nextAttemptAt: at })), at);
  };

  /**
   * The probe got through: the endpoint is back. Messages held back by its failures (5xx, network,
   * timeouts) are due now rather than each after its own backoff, which after an outage of seconds
   * spreads the backlog over tens of seconds (issue 12: 748 msg/s after a 6 s 503 outage). A failure
   * of one message (a 400, a 429) keeps its backoff. Best effort: if the store fails, they wait.
   */
  const releaseEndpointHolds = async (at: number) => {
    try {
      const released = await store.makeDueNow([...ENDPOINT_FAILURES], at);
      logger.info({ released }, 'AEP answers again: messages held back by its failures are due now');
    } catch (error) {
      logger.warn({ err: error }, 'could not make held-back messages due; they wait out their backoff');
    }
  };

  const sendBatch = (batch: ClaimedMessage[], signal: AbortSignal) => withBatchSpan(batch, (span) => sendTracedBatch(batch, signal, span));

  const sendTracedBatch = async (batch: ClaimedMessage[], signal: AbortSignal, span: Span) => {
    const outcomes = await sink.send(batch, signal);
    // Sinks answer in the batch's order; the map by id is only built for one that does not.
    let byId: Map<number, MessageOutcome> | undefined;
    const outcomeOf = (message: ClaimedMessage, position: number) => {
      if (outcomes[position]?.id === message.id) return outcomes[position];
      byId ??= new Map(outcomes.map((o) => [o.id, o]));
      return byId.get(message.id);
    };
    const at = now();
    const settlements = batch.map((message, position) =>
      toSettlement(message, outcomeOf(message, position) ?? { id: message.id, outcome: 'retry', reason: 'network', detail: 'no outcome from sink' }, at),
    );
    recordSettlements(span, batch, settlements);
    const retries = outcomes.filter((o): o is Extract<MessageOutcome, { outcome: 'retry' }> => o.outcome === 'retry');
    const throttled = retries.filter((o) => o.reason === 'http_429');
    if (throttled.length > 0) {
      // Adobe's Retry-After holds back every sender (clamped like the retry delay), not just this batch.
      const retryAfter = Math.max(0, ...throttled.map((o) => o.retryAfterMs ?? 0));
      rateLimiter.onThrottled(retryAfter > 0 ? Math.min(retryAfter, options.retry.maxMs) : undefined);
    } else if (outcomes.some((o) => o.outcome === 'delivered')) rateLimiter.onSuccess();
    const probing = circuitBreaker.state === 'half_open';
    circuitBreaker.record(!(retries.length === outcomes.length && retries.every((o) => ENDPOINT_FAILURES.has(o.reason))));
    const recovered = probing && (circuitBreaker.state as CircuitState) === 'closed';
    // A failed probe is the outage going on, already logged when the circuit opened: debug, not a
    // warning every half second.
    if (retries.length > 0) logger[probing ? 'debug' : 'warn']({ messages: batch.length, retries: retries.length, reason: retries[0]?.reason, detail: retries[0]?.detail }, 'delivery attempt failed; retrying later');
    logger.trace({ messages: batch.length, delivered: outcomes.filter((o) => o.outcome === 'delivered').length }, 'batch sent');
    await settleWhileLeased(settlements, at, signal);
    if (recovered) await releaseEndpointHolds(at);
  };

  /**
   * Records outcomes, retrying while the lease lasts if the store is briefly unreachable (e.g. a
   * PostgreSQL restart): otherwise a batch Adobe already accepted would be sent again once its lease
   * ran out. Gives up (throws) only when the lease is about to end.
   */
  const settleWhileLeased = async (settlements: Settlement[], at: number, lease: AbortSignal) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await store.settle(options.owner, settlements, at);
        return;
      } catch (error) {
        if (lease.aborted) throw error;
        await timer.sleep(Math.min(2_000, 100 * 2 ** attempt), lease);
      }
    }
  };

  /**
   * A signal that fires shortly before the lease taken at `claimedAt` runs out (or when stop() gives
   * up waiting): whatever is still waiting or sending then is cut short and settled while the lease
   * is still ours, so no other lane or replica ever sends the same message at the same time.
   */
  const leaseSignal = (claimedAt: number) => {
    const controller = new AbortController();
    const margin = Math.min(1_000, Math.floor(options.leaseMs / 10));
    const disposed = new AbortController();
    const onAbort = () => controller.abort();
    if (abort.signal.aborted) controller.abort();
    else abort.signal.addEventListener('abort', onAbort, { once: true });
    void timer.sleep(Math.max(0, claimedAt + options.leaseMs - margin - now()), disposed.signal).then(() => {
      if (!disposed.signal.aborted) onAbort();
    });
    return {
      signal: controller.signal,
      dispose() {
        disposed.abort();
        abort.signal.removeEventListener('abort', onAbort);
      },
    };
  };

  const idle = async () => {
    let next: number | undefined;
    try {
      next = await store.nextDueAt(options.route);
    } catch {
      next = undefined;
    }
    // stop() may have notified while we were reading: do not start a wait it would not end.
    if (!running) return;
    const ms = next === undefined ? options.pollIntervalMs : Math.min(options.pollIntervalMs, Math.max(1, next - now()));
    await waker.wait(ms);
  };

  const lane = async (index: number) => {
    const log = logger.child({ lane: index });
    while (running) {
      // Nothing is claimed while the circuit is open or Adobe asked us to hold off (Retry-After).
      const blockedFor = Math.max(circuitBreaker.waitMs(), rateLimiter.pausedMs());
      if (blockedFor > 0) {
        await waker.wait(blockedFor);
        continue;
      }
      // A shallow queue is claimed at most once per linger period by all lanes together, so webhooks
      // arriving meanwhile fill the next batch. Without it, lanes chase each webhook with a small
      // batch, and every batch costs a claim and a settle (measured: ~31 messages a batch under
      // load, half of ingest's CPU). The timer's monotonic clock: wall time (`now`) may step.
      const lingerLeft = shallowUntil - timer.now();
      if (lingerLeft > 0) {
        await timer.sleep(lingerLeft, stopping.signal);
        continue;
      }
      // Admission first, then the claim: a batch claimed before the rate limiter admits it waits in
      // memory, long enough to be promoted to V8's old generation (the capped drain's peak RSS).
      // The permit is for a full batch (one message while the circuit is not closed: the next request
      // is then its probe, which carries one, below); it shrinks to what the claim returned.
      const wanted = circuitBreaker.state === 'closed' ? options.batchMaxMessages : 1;
      const permit = await rateLimiter.acquire(wanted, stopping.signal);
      if (!running) {
        permit?.resize(0);
        break;
      }
      let claimed: ClaimedMessage[];
      const claimedAt = now();
      try {
        claimed = await store.claimDue({ owner: options.owner, now: claimedAt, leaseMs: options.leaseMs, limit: wanted, ...(options.route !== undefined ? { route: options.route } : {}) });
      } catch (error) {
        permit?.resize(0);
        log.warn({ err: error }, 'could not claim messages from the store; retrying');
        await waker.wait(options.pollIntervalMs);
        continue;
      }
      if (claimed.length < wanted) shallowUntil = timer.now() + options.lingerMs;
      if (claimed.length === 0) {
        permit?.resize(0);
        await idle();
        continue;
      }
      const batches = packBatches(claimed, { maxBytes: options.batchMaxBytes, maxMessages: options.batchMaxMessages });
      const lease = leaseSignal(claimedAt);
      try {
        for (let i = 0; i < batches.length; i += 1) {
          const batch = batches[i]!;
          try {
            // The first batch goes on the permit taken before the claim; one split off by size waits its turn.
            if (i === 0) permit?.resize(batch.length);
            else if (running) await rateLimiter.acquire(batch.length, lease.signal);
            // Stopping, out of lease time, or the circuit opened: give the rest back unsent, no attempt counted.
            if (!running || lease.signal.aborted || !circuitBreaker.begin()) {
              if (i === 0) permit?.resize(0);
              if (running && lease.signal.aborted) {
                log.warn({ messages: batches.slice(i).flat().length, leaseMs: options.leaseMs }, 'lease ran out waiting for the rate limiter: messages given back unsent (DELIVERY_LEASE_MS too short for the rate caps?)');
              }
              await release(batches.slice(i).flat());
              break;
            }
            // The circuit's probe carries one message, however many this lane claimed before the
            // circuit opened: asking a failing Adobe whether it answers again costs it one small
            // request, not up to a megabyte, so probes can come often. The rest goes back unsent (no
            // attempt counted) and follows in full batches once the probe gets through.
            if (circuitBreaker.state === 'half_open' && batch.length > 1) {
              if (i === 0) permit?.resize(1);
              await release([...batch.slice(1), ...batches.slice(i + 1).flat()]);
              await sendBatch(batch.slice(0, 1), lease.signal);
              break;
            }
            await sendBatch(batch, lease.signal);
          } catch (error) {
            // The store failed to record the outcome: the lease expires and the batch is sent again.
            log.error({ err: error, messages: batch.length }, 'could not record a delivery outcome; the lease will expire and the batch be retried');
            await waker.wait(options.pollIntervalMs);
            break;
          }
        }
      } finally {
        lease.dispose();
      }
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      unsubscribe = store.onWork(() => waker.notify());
      lanes = Array.from({ length: options.concurrency }, (_, i) => lane(i));
      logger.debug({ lanes: options.concurrency, sink: sink.name }, 'delivery started');
    },
    async stop(graceMs) {
      if (!running && lanes.length === 0) return;
      running = false;
      stopping.abort();
      unsubscribe?.();
      waker.notify();
      const all = Promise.all(lanes);
      const graceOver = new AbortController();
      const timedOut = await Promise.race([all.then(() => false), timer.sleep(graceMs, graceOver.signal).then(() => true)]);
      graceOver.abort();
      if (timedOut) {
        logger.warn({ graceMs }, 'deliveries still in flight at the end of the grace period: aborting them (they will be retried)');
        abort.abort();
        await all;
      }
      lanes = [];
      logger.debug('delivery stopped');
    },
  };
}
