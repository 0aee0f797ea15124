import type { FastifyInstance } from 'fastify';

/**
 * Serves `app` on PORT on 127.0.0.1 until SIGTERM or SIGINT (then `onClose`, then exit), and prints
 * the `{"ready":true,"port":N}` line startServer (bench/harness/processes.ts) waits for: the bench's
 * stand-ins for the relay, bare-fastify.ts and sync-relay.ts. Imports nothing else, so bare Fastify's
 * memory stays its own.
 */
export async function serveUntilSignal(app: FastifyInstance, onClose: () => Promise<unknown> = async () => undefined): Promise<void> {
  const close = () => {
    void app.close().then(onClose).then(() => process.exit(0));
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  await app.listen({ port: Number(process.env['PORT'] ?? 0), host: '127.0.0.1' });
  const address = app.server.address();
  process.stdout.write(`${JSON.stringify({ ready: true, port: typeof address === 'object' && address ? address.port : 0 })}\n`);
}
