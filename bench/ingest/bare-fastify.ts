/**
 * The ceiling for ingest on this stack: Fastify answering 202 to the webhook with no work (its own
 * JSON parsing and routing only, no logging). The benchmark runs it as a process beside the relay.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 2_097_152 });

app.post('/webhooks/capillary', async (request, reply) => {
  const eventId = (request.body as { eventId?: unknown } | null)?.eventId;
  return reply.code(202).send({ eventId: typeof eventId === 'string' ? eventId : '', status: 'accepted' });
});

const close = () => {
  void app.close().then(() => process.exit(0));
};
process.on('SIGTERM', close);
process.on('SIGINT', close);

await app.listen({ port: Number(process.env['PORT'] ?? 0), host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ ready: true, port: typeof address === 'object' && address ? address.port : 0 })}\n`);
