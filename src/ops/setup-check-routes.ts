import type { FastifyInstance } from 'fastify';
import { sendError } from '../http/error-handler.js';
import { ErrorBody } from '../http/schemas.js';
import { SchemaRefreshResult, SetupCheckReport } from '../http/setup-check-schemas.js';
import { checkRoute } from '../setup-check/run-setup-check.js';

/** How long one route's checks may take before the answer says so instead of hanging the caller. */
const ROUTE_CHECK_TIMEOUT_MS = 60_000;

/**
 * `GET /admin/setup-check[?route=ID]` and `POST /admin/schemas/refresh[?route=ID]` (issue 16), on the
 * operations listener behind the admin token (registered by admin-routes.ts). The check runs on the
 * routes in service, with their own token providers and their live schema state.
 */
export default async function setupCheckRoutes(app: FastifyInstance) {
  const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
  const query = { type: 'object', properties: { route: { type: 'string', minLength: 1 } }, additionalProperties: false } as const;
  const chosen = (route: string | undefined) => (route === undefined ? app.routes.list() : app.routes.list().filter((r) => r.config.id === route));

  app.get<{ Querystring: { route?: string } }>('/admin/setup-check', { schema: { querystring: query, response: { 200: SetupCheckReport, ...errors } } }, async (request, reply) => {
    const routes = chosen(request.query.route);
    if (routes.length === 0) return sendError(reply, 404, 'route_not_found', `No route ${request.query.route} is in service`);
    const signal = AbortSignal.timeout(ROUTE_CHECK_TIMEOUT_MS);
    const reports = await Promise.all(routes.map((r) => checkRoute({ route: r.config, platform: r.platform, schemas: r.schemas, signal })));
    request.log.info({ routes: reports.map((r) => ({ route: r.route, failed: r.checks.filter((c) => c.status === 'fail').map((c) => c.name) })) }, 'setup check run');
    return { routes: reports };
  });

  app.post<{ Querystring: { route?: string } }>('/admin/schemas/refresh', { schema: { querystring: query, response: { 200: SchemaRefreshResult, ...errors } } }, async (request, reply) => {
    const routes = chosen(request.query.route);
    if (routes.length === 0) return sendError(reply, 404, 'route_not_found', `No route ${request.query.route} is in service`);
    const refreshed = await Promise.all(routes.map(async (r) => ({ route: r.config.id, schemas: r.schemas ? await r.schemas.refresh() : [] })));
    request.log.info({ routes: refreshed.map((r) => ({ route: r.route, sources: r.schemas.map((s) => `${s.kind}:${s.source}`) })) }, 'schemas refreshed');
    return { routes: refreshed };
  });
}
