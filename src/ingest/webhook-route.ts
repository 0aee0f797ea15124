import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { sendError } from '../http/error-handler.js';
import { createLogThrottle } from '../logger.js';
import { ErrorBody, WebhookAccepted } from '../http/schemas.js';
import { KNOWN_EVENT_NAMES } from '../mapping/event-families.js';
import { ENV_ROUTE_ID, WEBHOOK_PATH } from '../config/route-config.js';
import type { LiveRoute } from '../routes/route-table.js';
import { traceIntake } from '../tracing/spans.js';
import { createHeaderAuthenticator } from './authenticate.js';
import { normalizeEnvelope } from './envelope.js';
import { withExactEventIds } from './exact-event-id.js';
import { createSourceAllowList } from './source-allow-list.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body exactly as received: stored for replay, parsed once. */
    rawBody?: string;
    /** What the webhook metric counts this request as. */
    webhook?: { eventName: string; outcome?: 'accepted' | 'duplicate' };
    /** The route the request was addressed to (issue 13), once its path is known to name one. */
    relayRoute?: LiveRoute;
  }
}

type Outcome = 'accepted' | 'duplicate' | 'unauthorized' | 'invalid' | 'rate_limited' | 'unavailable';

// Metric labels and throttle keys come from webhooks: names the relay does not know share the label
// and key `other`, and an org id only counts as itself while it looks like one (digits).
const knownName = (eventName: string) => (KNOWN_EVENT_NAMES.has(eventName) ? eventName : 'other');
const orgKey = (orgId: string | undefined) => (orgId !== undefined && /^\d{1,20}$/.test(orgId) ? orgId : 'other');

function outcomeOf(status: number): Outcome {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'invalid';
}

/**
 * POST /webhooks/capillary: authenticate, parse, map, commit, then 202. The answer codes are what
 * Capillary acts on: 400 makes it drop the event for good, so 400 is kept for bodies that are not an
 * event at all; anything that is the relay's fault answers 503 (or 429) so Capillary retries.
 */
export default async function webhookRoute(app: FastifyInstance, opts: { config: Config; now?: () => number; isShuttingDown: () => boolean }) {
  const { config } = opts;
  const env = config.env;
  const now = opts.now ?? Date.now;
  // Without ROUTES_FILE, the environment's one route at /webhooks/capillary, exactly as before;
  // with it, /webhooks/capillary/<routeId>, looked up per request (a reload adds and removes routes).
  const byFile = Boolean(env.ROUTES_FILE);
  // One authenticator per route config: a route accepts only its own secrets.
  const authenticators = new WeakMap<LiveRoute['config'], ReturnType<typeof createHeaderAuthenticator>>();
  const authenticatorOf = (route: LiveRoute) => {
    const known = authenticators.get(route.config);
    if (known) return known;
    const check = createHeaderAuthenticator(route.config.secrets);
    authenticators.set(route.config, check);
    return check;
  };
  const allowed = createSourceAllowList(env.WEBHOOK_ALLOWED_CIDRS);
  // Lines an event can cause at webhook rates: one per route and org (held) or event name (mapping
  // warnings) a minute, with the count of the ones left out; the metrics count every event.
  const throttled = createLogThrottle({ now });
  const authLog = app.log.child({ component: 'ingest' });
  if (config.auth.disabled) authLog.warn('CAPILLARY_AUTH_DISABLED=true: webhooks are accepted without authentication');

  // Parse JSON ourselves so the raw text is kept for the store, with Fastify's own
  // prototype-poisoning protection. Poisoning keys are removed rather than refused: a 400 would make
  // Capillary drop an event that is otherwise real (the raw body is kept as received).
  // Only JSON is accepted: other types get 415.
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(\s*;.*)?$/i, { parseAs: 'string', bodyLimit: env.WEBHOOK_BODY_LIMIT_BYTES }, (request, body, done) => {
    request.rawBody = body as string;
    parseJson(request, body as string, done);
  });

  // The route label only for routes that exist: an unknown path segment must not mint a series.
  // Without ROUTES_FILE the series keep the labels they always had (no `route`).
  const count = (eventName: string | undefined, outcome: Outcome, route: string) =>
    app.metrics.webhooksReceived.inc({ event_name: eventName === undefined ? 'other' : knownName(eventName), outcome, ...(byFile ? { route } : {}) });

  // Refusals are counted once answered; accepted and duplicate events at commit (below), so an
  // event stored for a client that hung up before the 202 is still counted.
  app.addHook('onResponse', (request, reply, done) => {
    if (!request.webhook?.outcome) count(request.webhook?.eventName, outcomeOf(reply.statusCode), request.relayRoute?.config.id ?? 'none');
    done();
  });

  app.post<{ Params: { routeId?: string } }>(
    byFile ? `${WEBHOOK_PATH}/:routeId` : WEBHOOK_PATH,
    {
      bodyLimit: env.WEBHOOK_BODY_LIMIT_BYTES,
      // Rate limit and unknown paths are answered earlier, at the edge (src/http/edge.ts).
      config: { listener: 'public' },
      schema: {
        response: { 202: WebhookAccepted, '4xx': ErrorBody, '5xx': ErrorBody },
      },
      // Callback form (no promise per request): a refusal is sent here and `done` is not called.
      onRequest: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        const route = app.routes.byId((request.params as { routeId?: string }).routeId ?? ENV_ROUTE_ID);
        if (!route) return void sendError(reply.header('connection', 'close'), 404, 'not_found', 'No route of this relay has this path');
        request.relayRoute = route;
        if (opts.isShuttingDown()) return void sendError(reply.header('connection', 'close'), 503, 'shutting_down', 'The relay is shutting down; retry shortly');
        if (allowed && !allowed(request.ip)) return void sendError(reply, 403, 'forbidden_source', 'Calls are not accepted from this address');
        if (!config.auth.disabled && !authenticatorOf(route)(request.headers[config.auth.header])) {
          return void sendError(reply, 401, 'unauthorized', `Missing or wrong ${config.auth.header} header`);
        }
        done();
      },
    },
    async (request, reply) => {
      const receivedAt = now();
      const normalized = normalizeEnvelope(withExactEventIds(request.body, request.rawBody), receivedAt);
      if (!normalized.ok) return sendError(reply, 400, normalized.code, normalized.message);
      const { event } = normalized;
      request.webhook = { eventName: event.eventName };

      const route = request.relayRoute!;
      const routeId = route.config.id;
      // Capillary drops a 400 for good: an event of an org this route does not list is kept, never sent.
      const held = !route.output.admits(event);
      // Never throws: a failure of the mapper comes back as unmapped with the mapping_error warning.
      const mapping = held ? { status: 'unmapped' as const, messages: [], warnings: [] } : route.output.map(event, request.rawBody ?? JSON.stringify(request.body));
      const trace = traceIntake(request, event);
      const result = await app.store.acceptEvent({ event, payload: request.rawBody ?? JSON.stringify(request.body), mapping, ...(byFile ? { route: routeId } : {}), held, ...trace });
      request.webhook.outcome = result.outcome;
      count(event.eventName, result.outcome, routeId);
      if (result.outcome === 'accepted' && held) {
        app.metrics.eventsHeld.inc({ route: routeId });
        throttled(`held ${routeId} ${orgKey(event.orgId)}`, (suppressed) =>
          request.log.warn({ eventId: event.eventId, eventName: event.eventName, orgId: event.orgId ?? null, route: routeId, suppressed }, "event held: its org is not one of the route's CAPILLARY_ORG_IDS; fix the routes file, reload, then replay held events"),
        );
      } else if (result.outcome === 'accepted') {
        app.metrics.eventsMapped.inc({ status: mapping.status, warning: mapping.warnings[0] ?? 'none' });
        if (result.skippedProfiles > 0) app.metrics.profileRecordsSkipped.inc(result.skippedProfiles);
        if (mapping.warnings.includes('mapping_error')) {
          throttled(`mapping_error ${knownName(event.eventName)}`, (suppressed) =>
            request.log.error({ eventId: event.eventId, eventName: event.eventName, suppressed }, 'mapper failed: event kept as unmapped, to replay after a fix'),
          );
        }
        if (mapping.warnings.includes('no_identity')) {
          throttled(`no_identity ${knownName(event.eventName)}`, (suppressed) =>
            request.log.warn({ eventId: event.eventId, eventName: event.eventName, suppressed }, 'event has no identity: Adobe cannot stitch it to a profile'),
          );
        }
        request.log.trace({ eventId: event.eventId, eventName: event.eventName, mapping: mapping.status }, 'event accepted');
      }
      return reply.code(202).send({ eventId: event.eventId, status: result.outcome });
    },
  );
}
