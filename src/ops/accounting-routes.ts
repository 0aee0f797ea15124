import type { FastifyInstance } from 'fastify';
import { AccountingBusyError } from '../accounting/job.js';
import { LOOKBACK_MS, parseInstant } from '../accounting/windows.js';
import { AccountingQuery, AccountingReport, AccountingRunRequest, AccountingRunResult } from '../http/accounting-schemas.js';
import { sendError } from '../http/error-handler.js';
import { ErrorBody } from '../http/schemas.js';

/**
 * Accounting in the admin API (issue 17; docs/accounting.md): run the job now and answer when it is
 * done, and read the judged windows. Registered inside adminRoutes, behind the same bearer check.
 */
export default async function accountingRoutes(app: FastifyInstance, opts: { now: () => number }) {
  const { now } = opts;
  const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

  app.post<{ Body: AccountingRunRequest | undefined }>(
    '/admin/accounting/run',
    {
      schema: { body: AccountingRunRequest, response: { 200: AccountingRunResult, ...errors } },
      // The body is optional: no body is a run over every route and the last 7 days.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const from = parseInstant(body.from);
      const to = parseInstant(body.to);
      if ((body.from !== undefined && from === undefined) || (body.to !== undefined && to === undefined)) {
        return sendError(reply, 400, 'invalid_request', '"from" and "to" take ISO 8601 (2026-01-01T00:00:00Z) or epoch ms');
      }
      if (from !== undefined && to !== undefined && from >= to) return sendError(reply, 400, 'invalid_request', '"from" must be before "to"');
      if (body.route !== undefined && !app.routes.byId(body.route)) return sendError(reply, 404, 'route_not_found', `No route ${body.route} is in service`);
      try {
        const result = await app.accounting.run({ ...(body.route !== undefined ? { route: body.route } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
        request.log.info({ runId: result.runId, windows: result.routes.reduce((n, r) => n + r.windows.length, 0) }, 'accounting run done');
        return result;
      } catch (error) {
        if (error instanceof AccountingBusyError) return sendError(reply, 409, 'accounting_busy', error.message);
        throw error;
      }
    },
  );

  app.get<{ Querystring: AccountingQuery }>('/admin/accounting', { schema: { querystring: AccountingQuery, response: { 200: AccountingReport, ...errors } } }, async (request, reply) => {
    const at = now();
    const from = parseInstant(request.query.from) ?? at - LOOKBACK_MS;
    const to = parseInstant(request.query.to) ?? at + 1;
    if (Number.isNaN(from) || Number.isNaN(to) || from >= to) return sendError(reply, 400, 'invalid_request', '"from" must be before "to" (ISO 8601 or epoch ms)');
    return app.accounting.report({ ...(request.query.route !== undefined ? { route: request.query.route } : {}), from, to });
  });
}
