import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { componentLogger } from '../logger.js';
import { createStore } from './create-store.js';
import { startRetention } from './retention.js';
import type { Store } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
  }
}

/** Opens the durable store at start-up (migrating it) and closes it last on shutdown. */
export default fp(
  async (app, opts: { config: Config; store?: Store }) => {
    const store = opts.store ?? (await createStore({ ...opts.config.store, logger: componentLogger(app.log, 'store') }));
    app.decorate('store', store);
    const retention = startRetention({
      store,
      logger: componentLogger(app.log, 'retention'),
      retentionMs: opts.config.store.dedupRetentionMs,
      intervalMs: opts.config.store.pruneIntervalMs,
    });
    app.addHook('onClose', async () => {
      retention.stop();
      await store.close();
    });
  },
  { name: 'store' },
);
