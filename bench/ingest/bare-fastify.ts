/**
 * The ceiling for ingest on this stack: Fastify answering 202 to the webhook with no work (its own
 * JSON parsing and routing only, no logging). The benchmark runs it as a process beside the relay.
 */
import Fastify from 'fastify';
import { serveUntilSignal } from './serve-until-signal.js';

const app = Fastify({ logger: false, bodyLimit: 2_097_152 });

app.post('/webhooks/capillary', async (request, reply) => {
  const eventId = (request.body as { eventId?: unknown } | null)?.eventId;
  return reply.code(202).send({ eventId: typeof eventId === 'string' ? eventId : '', status: 'accepted' });
});

await serveUntilSignal(app);
