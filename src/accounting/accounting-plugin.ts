import fp from 'fastify-plugin';
import { createDispatcher } from '../adobe/dispatcher.js';
import type { Config } from '../config/config.js';
import { componentLogger } from '../logger.js';
import { createAccountingJob, type AccountingJob } from './job.js';
import { createRouteSources, SOURCE_TIMEOUT_MS } from './sources.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Accounting (issue 17): Capillary, the relay and Adobe compared per window; run by timer and by the admin API. */
    accounting: AccountingJob;
  }
}

/**
 * Registers the accounting job: its timer starts with the app and stops on close, before the routes
 * (whose token providers it borrows) and the store close. Its calls to Capillary and Adobe go
 * through a dispatcher of its own, so a slow Platform API never queues behind deliveries.
 */
export default fp(
  async (app, opts: { config: Config; now?: () => number }) => {
    const logger = componentLogger(app.log, 'accounting');
    const dispatcher = createDispatcher({ connections: 4, headersTimeoutMs: SOURCE_TIMEOUT_MS, bodyTimeoutMs: SOURCE_TIMEOUT_MS });
    const job = createAccountingJob({
      store: app.store,
      routes: () => app.routes.list(),
      sources: createRouteSources({ dispatcher, logger, ...(opts.now ? { now: opts.now } : {}) }),
      metrics: app.metrics,
      logger,
      intervalMs: opts.config.env.ACCOUNTING_INTERVAL_MS,
      lagMinutes: opts.config.env.ACCOUNTING_LAG_MINUTES,
      labelRoute: Boolean(opts.config.env.ROUTES_FILE),
      ...(opts.now ? { now: opts.now } : {}),
    });
    app.decorate('accounting', job);
    app.addHook('onReady', async () => job.start());
    app.addHook('onClose', async () => {
      await job.stop();
      await dispatcher.close();
    });
  },
  { name: 'accounting', dependencies: ['store', 'sink', 'metrics'] },
);
