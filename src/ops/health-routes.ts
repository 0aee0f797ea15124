import type { FastifyInstance } from 'fastify';
import { Health, Readiness } from '../http/schemas.js';

const describe = (error: unknown) => (error instanceof Error ? (error as { code?: string }).code ?? error.name : 'failed');

/**
 * Liveness says the process answers; readiness says this replica should get traffic: the store can
 * commit, the relay can deliver (an IMS token is cached or obtainable, or it is a dry run), and it
 * is not shutting down. Check names in the body tell an operator which one failed.
 */
export default async function healthRoutes(app: FastifyInstance, opts: { isShuttingDown: () => boolean }) {
  app.get('/healthz', { schema: { response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
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
    const lifecycle = opts.isShuttingDown() ? 'shutting_down' : 'ok';
    const ready = store === 'ok' && delivery === 'ok' && lifecycle === 'ok';
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      mode: app.sink.name === 'dry-run' ? 'dry-run' : 'aep',
      checks: { store, delivery, lifecycle },
    });
  });
}
