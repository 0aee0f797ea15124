import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { sendError } from '../http/error-handler.js';
import {
  DeadLetterPage,
  DeadLetterReplayRequest,
  ErrorBody,
  EventReplayRequest,
  EventReplayResult,
  ReplayCount,
  RouteList,
  RoutesReloaded,
  StoredEventBody,
} from '../http/schemas.js';
import { createHeaderAuthenticator } from '../ingest/authenticate.js';
import { Job } from '../http/console-schemas.js';
import accountingRoutes from './accounting-routes.js';
import consoleApi from './console-api.js';
import { createJobs } from './jobs.js';
import { replayEvents } from './replay-events.js';
import setupCheckRoutes from './setup-check-routes.js';

/** The most events one synchronous replay examines (the 200 answer); more runs as a background job. */
const SYNC_REPLAY_MAX_EVENTS = 10_000;
/** A background replay with no `limit` examines every event that matches, up to this. */
const BACKGROUND_REPLAY_MAX_EVENTS = 1_000_000;

/** Room for a replay list of 10,000 ids; every other route keeps the small default. */
const ADMIN_BODY_LIMIT_BYTES = 1_048_576;

/**
 * The operator API, behind `Authorization: Bearer <ADMIN_TOKEN>`. Not registered at all when
 * ADMIN_TOKEN is unset (every /admin path answers 404).
 */
export default async function adminRoutes(app: FastifyInstance, opts: { config: Config; now?: () => number }) {
  const adminToken = opts.config.adminToken;
  if (!adminToken) return;
  const now = opts.now ?? Date.now;
  const authenticate = createHeaderAuthenticator([`Bearer ${adminToken}`]);
  const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

  app.addHook('onRequest', async (request, reply) => {
    if (!authenticate(request.headers.authorization)) return sendError(reply, 401, 'unauthorized', 'Missing or wrong admin bearer token');
    return undefined;
  });

  // One job runner for the whole admin API (event replays here, dead-letter replays in the console's).
  const jobs = createJobs(now);
  // Jobs stop before the store closes (onClose hooks run in reverse order of registration).
  app.addHook('onClose', async () => jobs.stop());

  await app.register(consoleApi, { config: opts.config, now, jobs });
  // Issue 16: the setup check and schema refresh, behind the same token.
  await app.register(setupCheckRoutes);
  await app.register(accountingRoutes, { now });

  app.get<{ Params: { eventId: string } }>(
    '/admin/events/:eventId',
    { schema: { params: { type: 'object', properties: { eventId: { type: 'string', minLength: 1 } }, required: ['eventId'] }, response: { 200: StoredEventBody, ...errors } } },
    async (request, reply) => {
      const event = await app.store.getEvent(request.params.eventId);
      if (!event) return sendError(reply, 404, 'event_not_found', 'No stored event has this id (never received, or pruned after the retention window)');
      return event;
    },
  );

  app.get<{ Querystring: { limit: number; after?: number; route?: string } }>(
    '/admin/dead-letters',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, after: { type: 'integer', minimum: 0 }, route: { type: 'string', minLength: 1 } },
          additionalProperties: false,
        },
        response: { 200: DeadLetterPage, ...errors },
      },
    },
    async (request) => {
      const { limit, after, route } = request.query;
      const items = await app.store.listDeadLetters({ limit, ...(after !== undefined ? { afterId: after } : {}), ...(route !== undefined ? { route } : {}) });
      return { items, nextAfter: items.length === request.query.limit ? items[items.length - 1]!.id : null };
    },
  );

  app.post<{ Body: DeadLetterReplayRequest }>(
    '/admin/dead-letters/replay',
    { bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: DeadLetterReplayRequest, response: { 200: ReplayCount, ...errors } } },
    async (request) => {
      const ids = 'all' in request.body ? 'all' : request.body.ids;
      const requeued = await app.store.replayDeadLetters(ids, now());
      request.log.info({ requeued, scope: ids === 'all' ? 'all' : ids.length }, 'dead letters re-queued');
      return { requeued };
    },
  );

  app.get('/admin/routes', { schema: { response: { 200: RouteList, ...errors } } }, async () => ({
    routes: app.routes.list().map(({ config, sink }) => ({
      id: config.id,
      path: config.path,
      output: config.output,
      orgIds: config.orgIds ? [...config.orgIds] : null,
      sink: sink.name,
    })),
  }));

  app.post('/admin/routes/reload', { schema: { response: { 200: RoutesReloaded, ...errors } } }, async (_request, reply) => {
    const result = await app.reloadRoutes();
    if (!result.ok) return sendError(reply, 422, 'routes_file_refused', `${result.error}; the routes in force are unchanged`);
    const { ok: _ok, ...changes } = result;
    return changes;
  });

  app.post<{ Body: EventReplayRequest }>(
    '/admin/events/replay',
    { bodyLimit: ADMIN_BODY_LIMIT_BYTES, schema: { body: EventReplayRequest, response: { 200: EventReplayResult, 202: Job, ...errors } } },
    async (request, reply) => {
      const { state, eventIds, route, after, background = false } = request.body;
      if (!state && !eventIds) return sendError(reply, 400, 'invalid_request', 'Give "state" (e.g. "unmapped") or "eventIds"');
      const limit = request.body.limit ?? (background ? BACKGROUND_REPLAY_MAX_EVENTS : 1000);
      if (!background && limit > SYNC_REPLAY_MAX_EVENTS) {
        return sendError(reply, 400, 'invalid_request', `"limit" above ${SYNC_REPLAY_MAX_EVENTS} needs "background": true`);
      }
      const filter = { limit, ...(state ? { mappingStatus: state } : {}), ...(route ? { route } : {}), ...(eventIds ? { eventIds } : {}), ...(after ? { afterEventId: after } : {}) };
      const replay = (onChunk?: (examined: number) => void, signal?: AbortSignal) =>
        replayEvents({ store: app.store, routeOf: (id) => app.routes.byId(id)?.output, now: now(), filter, ...(onChunk ? { onChunk } : {}), ...(signal ? { signal } : {}) });
      if (!background) {
        const result = await replay();
        request.log.info(result, 'events replayed');
        return result;
      }
      const log = request.log;
      const job = jobs.start('event_replay', eventIds ? eventIds.length : null, async (progress, signal) => {
        const result = await replay(progress, signal);
        log.info({ ...result, jobId: job.jobId }, 'background event replay done');
        return result;
      });
      request.log.info({ jobId: job.jobId }, 'background event replay started');
      return reply.code(202).send(job);
    },
  );
}
