import type { FastifyInstance } from 'fastify';
import { Health, Readiness } from '../http/schemas.js';

const describe = (error: unknown) => (error instanceof Error ? (error as { code?: string }).code ?? error.name : 'failed');

/**
 * How long one round of readiness checks answers every /readyz: /readyz is public (load balancers),
 * so it must not be a way to make the store do work on demand.
 */
export const READINESS_TTL_MS = 1000;

/**
 * Liveness says the process answers; readiness says this replica should get traffic: the store can
 * commit, the relay can deliver (an IMS token is cached or obtainable, or it is a dry run), and it
 * is not shutting down. Check names in the body tell an operator which one failed.
 */
export default async function healthRoutes(app: FastifyInstance, opts: { isShuttingDown: () => boolean; now?: () => number }) {
  const now = opts.now ?? Date.now;
  let cached: { at: number; checks: Promise<{ store: string; delivery: string }> } | undefined;
  const checks = () => {
    const at = now();
    if (!cached || at - cached.at >= READINESS_TTL_MS || at < cached.at) cached = { at, checks: runChecks() };
    return cached.checks;
  };
  const runChecks = async () => {
    const [store, delivery] = await Promise.all([
      app.store.checkWritable().then(
        () => 'ok',
        (error: unknown) => `failing: ${describe((error as { cause?: unknown }).cause ?? error)}`,
      ),
      app.sink.readiness().then(
        (r) => (r.ok ? 'ok' : `failing: ${r.reason}`),
        () => 'failing: readiness check failed',
      ),
    ]);
    return { store, delivery };
  };

  app.get('/healthz', { config: { listener: 'both' }, schema: { response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { config: { listener: 'both' }, schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const { store, delivery } = await checks();
    // Shutting down is read live: a load balancer must see it at once.
    const lifecycle = opts.isShuttingDown() ? 'shutting_down' : 'ok';
    const ready = store === 'ok' && delivery === 'ok' && lifecycle === 'ok';
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      mode: app.sink.name === 'dry-run' ? 'dry-run' : 'aep',
      checks: { store, delivery, lifecycle },
    });
  });
}
