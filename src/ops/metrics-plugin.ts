import fp from 'fastify-plugin';
import { sampleEventLoopDelay } from './event-loop-delay.js';
import { createMetrics, type Metrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** How long one reading of the queue's depth serves the three queue gauges of a scrape. */
const QUEUE_STATS_TTL_MS = 1000;

/**
 * Decorates `metrics` and serves `GET /metrics`. Queue gauges are read from the store when scraped
 * (so every replica on a shared store reports the same, true depth), once per scrape.
 */
export default fp(
  async (app) => {
    const metrics = createMetrics();
    app.decorate('metrics', metrics);
    const loopDelay = sampleEventLoopDelay(metrics.eventLoopDelay);
    app.addHook('onClose', async () => loopDelay.stop());

    let cached: { at: number; stats: Promise<{ pending: number; oldestPendingAgeMs: number; deadLetters: number } | undefined> } | undefined;
    const queueStats = () => {
      const now = Date.now();
      if (!cached || now - cached.at > QUEUE_STATS_TTL_MS) {
        cached = { at: now, stats: app.store.queueStats(now).catch(() => undefined) };
      }
      return cached.stats;
    };
    const gauges: [typeof metrics.queuePending, (s: NonNullable<Awaited<ReturnType<typeof queueStats>>>) => number][] = [
      [metrics.queuePending, (s) => s.pending],
      [metrics.queueOldestPendingAge, (s) => s.oldestPendingAgeMs / 1000],
      [metrics.deadLetters, (s) => s.deadLetters],
    ];
    for (const [gauge, read] of gauges) {
      // prom-client awaits an async collect(); a store that cannot answer leaves the last value.
      (gauge as unknown as { collect: () => Promise<void> }).collect = async () => {
        const stats = await queueStats();
        if (stats) gauge.set(read(stats));
      };
    }

    app.get('/metrics', async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  },
  { name: 'metrics', dependencies: ['store'] },
);
