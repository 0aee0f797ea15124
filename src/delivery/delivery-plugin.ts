import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';

/**
 * Runs each route's delivery from `onReady` until `onClose`; on close batches in flight get
 * SHUTDOWN_GRACE_MS to finish before the store closes.
 */
export default fp(
  async (app, _opts: { config: Config; now?: () => number }) => {
    app.addHook('onReady', async () => app.routes.start());
    app.addHook('onClose', async () => app.routes.close());
  },
  { name: 'delivery', dependencies: ['store', 'sink', 'metrics'] },
);
