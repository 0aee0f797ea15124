import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { createDryRunSink } from '../delivery/dry-run-sink.js';
import type { Sink } from '../delivery/types.js';
import { componentLogger } from '../logger.js';
import { createAepSink } from './dcs-client.js';
import { createDispatcher } from './dispatcher.js';
import { createImsTokenProvider } from './ims-token-provider.js';

declare module 'fastify' {
  interface FastifyInstance {
    sink: Sink;
  }
}

/**
 * Chooses where messages go: AEP streaming ingestion (with an IMS token provider when credentials
 * are set) or, with no inlet configured, the dry-run file. Owns the one undici dispatcher every
 * outbound request goes through.
 */
export default fp(
  async (app, opts: { config: Config; sink?: Sink }) => {
    const { config } = opts;
    if (opts.sink) {
      app.decorate('sink', opts.sink);
      return;
    }
    const logger = componentLogger(app.log, 'adobe');
    if (!config.adobe) {
      const sink = await createDryRunSink({ file: config.dryRunFile, logger: componentLogger(app.log, 'dry-run') });
      app.decorate('sink', sink);
      app.addHook('onClose', () => sink.close());
      return;
    }
    const requestTimeoutMs = config.env.DELIVERY_REQUEST_TIMEOUT_MS;
    const dispatcher = createDispatcher({ headersTimeoutMs: requestTimeoutMs, bodyTimeoutMs: requestTimeoutMs });
    const tokenProvider =
      'imsUrl' in config.adobe
        ? createImsTokenProvider({
            imsUrl: config.adobe.imsUrl,
            clientId: config.adobe.clientId,
            clientSecret: config.adobe.clientSecret,
            scopes: config.adobe.scopes,
            dispatcher,
            logger: componentLogger(app.log, 'ims'),
            metrics: app.metrics,
          })
        : undefined;
    const sink = createAepSink({
      inletUrl: config.adobe.inletUrl,
      ...(config.mapping.flowId ? { flowId: config.mapping.flowId } : {}),
      tokenProvider,
      dispatcher,
      logger,
      metrics: app.metrics,
      requestTimeoutMs,
    });
    app.decorate('sink', sink);
    app.addHook('onClose', async () => {
      await sink.close();
      await tokenProvider?.close();
      await dispatcher.close();
    });
  },
  { name: 'sink', dependencies: ['metrics'] },
);
