import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { componentLogger } from '../logger.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { createDeliveryWorker } from './delivery-worker.js';
import { createRateLimiter } from './rate-limiter.js';

/**
 * Runs the delivery worker from `onReady` until `onClose`; on close it lets batches in flight
 * finish within SHUTDOWN_GRACE_MS before the store closes.
 */
export default fp(
  async (app, opts: { config: Config; now?: () => number }) => {
    const env = opts.config.env;
    const logger = componentLogger(app.log, 'delivery');
    const worker = createDeliveryWorker({
      store: app.store,
      sink: app.sink,
      metrics: app.metrics,
      logger,
      rateLimiter: createRateLimiter({ requestsPerSecond: env.AEP_MAX_REQUESTS_PER_SECOND, messagesPerSecond: env.AEP_MAX_MESSAGES_PER_SECOND }),
      circuitBreaker: createCircuitBreaker({
        windowMs: 60_000,
        minRequests: 10,
        failureRatio: 0.7,
        openMs: env.CIRCUIT_OPEN_MS,
        onChange: (state) => {
          app.metrics.circuitState.set(state === 'open' ? 1 : 0);
          logger.warn({ state }, state === 'open' ? 'AEP is failing: circuit open, pausing deliveries' : `circuit ${state}`);
        },
      }),
      options: {
        // Unique per process: a restarted process must not settle the leases of its previous life.
        owner: `${hostname()}:${process.pid}:${randomUUID()}`,
        batchMaxMessages: env.DELIVERY_BATCH_MAX_MESSAGES,
        batchMaxBytes: env.DELIVERY_BATCH_MAX_BYTES,
        lingerMs: env.DELIVERY_LINGER_MS,
        concurrency: env.DELIVERY_CONCURRENCY,
        leaseMs: env.DELIVERY_LEASE_MS,
        pollIntervalMs: env.DELIVERY_POLL_INTERVAL_MS,
        retry: { baseMs: env.DELIVERY_RETRY_BASE_MS, maxMs: env.DELIVERY_RETRY_MAX_MS },
        maxAgeMs: env.DELIVERY_MAX_AGE_HOURS * 3_600_000,
      },
      ...(opts.now ? { now: opts.now } : {}),
    });
    app.addHook('onReady', async () => worker.start());
    app.addHook('onClose', async () => worker.stop(env.SHUTDOWN_GRACE_MS));
  },
  { name: 'delivery', dependencies: ['store', 'sink', 'metrics'] },
);
