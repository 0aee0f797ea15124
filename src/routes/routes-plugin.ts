import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createRouteTable, type RouteTable } from './route-table.js';
import type { Sink } from '../delivery/types.js';
import { createRoutesReloader, type ReloadResult } from './routes-reload.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route's sink as one: readiness and the console's token status. */
    sink: Sink;
    /** The routes in service, each with its own sink and delivery (issue 13). */
    routes: RouteTable;
    /** Re-reads ROUTES_FILE (SIGHUP, POST /admin/routes/reload); a bad file leaves the routes as they are. */
    reloadRoutes: () => Promise<ReloadResult>;
  }
}

/**
 * Builds the routes: per route, where messages go (AEP streaming ingestion, a source dataflow, or
 * the dry-run file), with one IMS token provider per distinct credential set and one undici
 * dispatcher for every outbound request. The delivery plugin starts and stops them.
 */
export default fp(
  async (app, opts: { config: Config; sink?: Sink; now?: () => number }) => {
    const routes = createRouteTable({
      env: opts.config.env,
      store: app.store,
      metrics: app.metrics,
      logger: app.log as unknown as Logger,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.sink ? { testSink: opts.sink } : {}),
    });
    await routes.apply(opts.config.routes);
    app.decorate('routes', routes);
    app.decorate('sink', routes.sink);
    app.decorate('reloadRoutes', createRoutesReloader(app, opts.config).reload);
  },
  { name: 'sink', dependencies: ['metrics', 'store'] },
);
