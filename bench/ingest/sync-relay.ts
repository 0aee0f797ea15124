/**
 * The hand-written alternative the relay is compared with: a minimal relay that maps each webhook
 * and forwards it to Adobe before answering, so Capillary waits for Adobe on every call. It uses the
 * relay's own settings, envelope reader and mapper, one IMS token fetched at start-up and a keep-alive
 * undici pool: what a careful engineer would write in an afternoon, without a queue.
 */
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { loadConfig } from '../../src/config/config.js';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import { batchUrlFromInletUrl } from '../../src/adobe/dcs-client.js';
import { serveUntilSignal } from './serve-until-signal.js';

const config = loadConfig(process.env);
if (!config.adobe) throw new Error('sync-relay: AEP_INLET_URL must be set');
const batchUrl = batchUrlFromInletUrl(config.adobe.inletUrl);
const dispatcher = new Agent({ keepAliveTimeout: 60_000 });

async function fetchToken(): Promise<string | undefined> {
  if (!config.adobe || !('imsUrl' in config.adobe)) return undefined;
  const form = new URLSearchParams({
    client_id: config.adobe.clientId,
    client_secret: config.adobe.clientSecret,
    grant_type: 'client_credentials',
    scope: config.adobe.scopes,
  });
  const res = await request(config.adobe.imsUrl, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  return ((await res.body.json()) as { access_token: string }).access_token;
}
const token = await fetchToken();
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (token) headers['authorization'] = `Bearer ${token}`;
if (config.mapping.flowId) headers['x-adobe-flow-id'] = config.mapping.flowId;

const app = Fastify({ logger: false, bodyLimit: config.env.WEBHOOK_BODY_LIMIT_BYTES });

app.post('/webhooks/capillary', async (req, reply) => {
  if (!config.auth.disabled && !config.auth.secrets.includes(String(req.headers[config.auth.header] ?? ''))) {
    return reply.code(401).send({ error: 'unauthorized' });
  }
  const normalized = normalizeEnvelope(req.body, Date.now());
  if (!normalized.ok) return reply.code(400).send({ error: normalized.code });
  const mapping = mapEvent(normalized.event, config.mapping);
  if (mapping.messages.length > 0) {
    try {
      const res = await request(batchUrl, {
        method: 'POST',
        dispatcher,
        headers,
        body: JSON.stringify({ messages: mapping.messages.map((m) => m.message) }),
      });
      const answer = (await res.body.json()) as { responses?: Array<{ xactionId?: string; statusCode?: number }> };
      const ok = res.statusCode === 207 && (answer.responses ?? []).every((r) => r.statusCode === undefined || r.statusCode < 400);
      if (!ok) return reply.code(503).send({ error: 'adobe_unavailable' });
    } catch {
      return reply.code(503).send({ error: 'adobe_unavailable' });
    }
  }
  return reply.code(202).send({ eventId: normalized.event.eventId, status: 'accepted' });
});

await serveUntilSignal(app, () => dispatcher.close());
