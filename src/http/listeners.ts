import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The operations listener's server (not yet listening), or undefined when one listener serves all. */
    opsServer: Server | undefined;
  }
  interface FastifyContextConfig {
    /** Which listener serves the route. Routes default to `ops`; only what Capillary and load balancers need is `public`. */
    listener?: 'public' | 'ops' | 'both';
  }
}

const OPS_LISTENER = Symbol('relay.opsListener');

/** True for a request that arrived on the operations listener. */
export function isOpsRequest(request: FastifyRequest): boolean {
  return (request.raw as IncomingMessage & { [OPS_LISTENER]?: true })[OPS_LISTENER] === true;
}

/**
 * Whether the route may be served on the listener the request came in on. With one listener
 * (OPS_PORT equal to PORT) every route is served there. `app.inject` requests count as public.
 */
export function servedHere(request: FastifyRequest, splitListeners: boolean): boolean {
  if (!splitListeners) return true;
  const listener = request.routeOptions.config.listener ?? 'ops';
  if (listener === 'both') return true;
  return (listener === 'ops') === isOpsRequest(request);
}

/**
 * The operations listener (`OPS_PORT`): a second HTTP server feeding the same Fastify instance, so
 * both listeners share one store, one set of metrics and one delivery worker. Its requests are
 * marked, and the edge hooks (src/http/edge.ts) serve on each listener only its own routes.
 * server.ts makes it listen; it is closed with the app.
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const env = opts.config.env;
    if (!opts.config.ops) {
      app.decorate('opsServer', undefined);
      return;
    }
    const server = createServer((req, res) => {
      (req as IncomingMessage & { [OPS_LISTENER]?: true })[OPS_LISTENER] = true;
      app.routing(req, res);
    });
    // The same slow-client bounds as the public listener (app.ts serverOptions).
    server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
    server.requestTimeout = env.HTTP_REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = env.HTTP_KEEP_ALIVE_TIMEOUT_MS;
    app.decorate('opsServer', server);
    app.addHook('onClose', async () => {
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    });
  },
  { name: 'listeners' },
);
