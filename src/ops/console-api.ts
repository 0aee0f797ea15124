import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { sendError } from '../http/error-handler.js';
import {
  AttemptList,
  ConsoleSummary,
  DeadLetterFilterQuery,
  DeadLetterGroups,
  DeadLetterReplayJobRequest,
  DeadLetterSearchQuery,
  EventSearchPage,
  EventSearchQuery,
  Job,
  MappingPreview,
} from '../http/console-schemas.js';
import { DeadLetterPage, ErrorBody } from '../http/schemas.js';
import type { DeadLetterFilter } from '../store/console-types.js';
import type { Jobs } from './jobs.js';
import { previewStored } from './replay-events.js';

/** Dead letters re-queued per store call by a replay job: each chunk is one short transaction. */
const REPLAY_CHUNK = 500;
const HOUR_MS = 3_600_000;

const eventIdParams = { type: 'object', properties: { eventId: { type: 'string', minLength: 1 } }, required: ['eventId'] } as const;

const filterOf = (f: { reason?: string | undefined; route?: string | undefined; from?: number | undefined; to?: number | undefined }): DeadLetterFilter => ({
  ...(f.reason !== undefined ? { reason: f.reason } : {}),
  ...(f.route !== undefined ? { route: f.route } : {}),
  ...(f.from !== undefined ? { from: f.from } : {}),
  ...(f.to !== undefined ? { to: f.to } : {}),
});

/**
 * The admin API behind the operator console (issue 14). Registered inside adminRoutes, so the
 * same bearer check guards it. Background jobs live in this process (src/ops/jobs.ts).
 */
export default async function consoleApi(app: FastifyInstance, opts: { config: Config; now: () => number; jobs: Jobs }) {
  const { now, jobs } = opts;
  const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

  app.get<{ Querystring: EventSearchQuery }>('/admin/events', { schema: { querystring: EventSearchQuery, response: { 200: EventSearchPage, ...errors } } }, async (request) => {
    const { q, name, state, route, from, to, limit, before } = request.query;
    return app.store.searchEvents({
      limit,
      ...(q !== undefined ? { text: q } : {}),
      ...(name !== undefined ? { eventName: name } : {}),
      ...(state !== undefined ? { state: state as never } : {}),
      ...(route !== undefined ? { route } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(before !== undefined ? { before } : {}),
    });
  });

  app.get<{ Params: { eventId: string } }>(
    '/admin/events/:eventId/attempts',
    { schema: { params: eventIdParams, response: { 200: AttemptList, ...errors } } },
    async (request) => ({ items: await app.store.listAttempts(request.params.eventId) }),
  );

  app.post<{ Params: { eventId: string } }>(
    '/admin/events/:eventId/preview',
    { schema: { params: eventIdParams, response: { 200: MappingPreview, ...errors } } },
    async (request, reply) => {
      const [stored] = await app.store.listEventsForReplay({ eventIds: [request.params.eventId], limit: 1 });
      if (!stored) return sendError(reply, 404, 'event_not_found', 'No stored event has this id (never received, or pruned after the retention window)');
      return { eventId: stored.eventId, ...previewStored(stored, app.routes.byId(stored.route)?.output) };
    },
  );

  app.get<{ Querystring: DeadLetterFilterQuery }>(
    '/admin/dead-letters/groups',
    { schema: { querystring: DeadLetterFilterQuery, response: { 200: DeadLetterGroups, ...errors } } },
    async (request) => ({ groups: await app.store.deadLetterGroups(filterOf(request.query)) }),
  );

  app.get<{ Querystring: DeadLetterFilterQuery & { limit: number; after?: number } }>(
    '/admin/dead-letters/search',
    { schema: { querystring: DeadLetterSearchQuery, response: { 200: DeadLetterPage, ...errors } } },
    async (request) => {
      const { limit, after } = request.query;
      const items = await app.store.listDeadLettersFiltered({ ...filterOf(request.query), limit, ...(after !== undefined ? { afterId: after } : {}) });
      return { items, nextAfter: items.length === limit ? items[items.length - 1]!.id : null };
    },
  );

  app.post<{ Body: DeadLetterReplayJobRequest }>(
    '/admin/dead-letters/replay-jobs',
    { schema: { body: DeadLetterReplayJobRequest, response: { 202: Job, ...errors } } },
    async (request, reply) => {
      const filter = filterOf(request.body);
      const total = await app.store.countDeadLetters(filter);
      const job = jobs.start('dead_letter_replay', total, async (progress, signal) => {
        let requeued = 0;
        let examined = 0;
        let afterId = 0;
        while (!signal.aborted) {
          const page = await app.store.listDeadLettersFiltered({ ...filter, limit: REPLAY_CHUNK, afterId });
          if (page.length === 0) break;
          requeued += await app.store.replayDeadLetters(page.map((d) => d.id), now());
          examined += page.length;
          afterId = page[page.length - 1]!.id;
          progress(examined);
        }
        if (signal.aborted) throw new Error('cancelled');
        return { requeued, examined };
      });
      request.log.info({ jobId: job.jobId, total, filter }, 'dead-letter replay job started');
      return reply.code(202).send(job);
    },
  );

  app.get<{ Params: { jobId: string } }>(
    '/admin/jobs/:jobId',
    { schema: { params: { type: 'object', properties: { jobId: { type: 'string', minLength: 1 } }, required: ['jobId'] }, response: { 200: Job, ...errors } } },
    async (request, reply) => jobs.get(request.params.jobId) ?? sendError(reply, 404, 'job_not_found', 'No job has this id in this process (jobs are forgotten on restart)'),
  );

  app.get('/admin/summary', { schema: { response: { 200: ConsoleSummary, ...errors } } }, async () => {
    const at = now();
    const lastMinute = Math.floor(at / 60_000) * 60_000;
    const [queue, perMinute, groups, circuit] = await Promise.all([
      app.store.queueStats(at),
      app.store.activity(lastMinute - HOUR_MS + 60_000, lastMinute + 60_000),
      app.store.deadLetterGroups({}),
      app.metrics.circuitState.get(),
    ]);
    const token = app.sink.tokenStatus?.();
    return {
      now: at,
      queue,
      perMinute,
      deadLetters: groups.map((g) => ({ reason: g.reason, count: g.count })),
      token: token
        ? { state: token.valid ? ('valid' as const) : ('missing' as const), expiresAt: token.expiresAt ?? null, lastErrorCode: token.lastErrorCode ?? null }
        : { state: 'not_used' as const, expiresAt: null, lastErrorCode: null },
      circuit: circuit.values[0]?.value === 1 ? ('open' as const) : ('closed' as const),
    };
  });
}
