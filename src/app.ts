import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import accountingPlugin from './accounting/accounting-plugin.js';
import sinkPlugin from './routes/routes-plugin.js';
import type { Config } from './config/config.js';
import deliveryPlugin from './delivery/delivery-plugin.js';
import type { Sink } from './delivery/types.js';
import edgePlugin from './http/edge.js';
import { installErrorHandler } from './http/error-handler.js';
import listenersPlugin from './http/listeners.js';
import { SHARED_SCHEMAS } from './http/schemas.js';
import { lazyRequestLogger } from './logger.js';
import webhookRoute from './ingest/webhook-route.js';
import adminRoutes from './ops/admin-routes.js';
import consolePlugin from './ops/console-plugin.js';
import healthRoutes from './ops/health-routes.js';
import metricsPlugin from './ops/metrics-plugin.js';
import storePlugin from './store/store-plugin.js';
import type { Store } from './store/types.js';
import type { Tracing } from './tracing/tracing.js';

export interface AppOptions {
  config: Config;
  /** Test seams; production passes neither. */
  now?: () => number;
  store?: Store;
  sink?: Sink;
  /** Started by server.ts when OTEL_* variables configure it (src/tracing/); its owner shuts it down. */
  tracing?: Tracing;
}

/**
 * The body limit of every route but the webhook (which takes WEBHOOK_BODY_LIMIT_BYTES) and the admin
 * replays (which take lists of ids): nothing else on either listener has a reason to read more.
 */
export const DEFAULT_BODY_LIMIT_BYTES = 16_384;

/** Fastify's own server settings for the relay (body limits, slow-client timeouts, proxies). */
export function serverOptions(config: Config, logger: Logger) {
  const env = config.env;
  return {
    // Typed as Fastify's base logger so the app is a plain FastifyInstance everywhere.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    // Slow clients (slowloris) cannot hold connections: headers and whole requests are bounded.
    requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    connectionTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: { headersTimeout: env.HTTP_HEADERS_TIMEOUT_MS, requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS },
    // The relay answers 503 itself while closing, with its JSON body and Retry-After.
    return503OnClosing: false,
    forceCloseConnections: 'idle' as const,
    requestIdHeader: 'x-request-id',
    // One line per request, written by relayApp's onResponse hook: debug for successes, info for
    // refusals (Fastify's default is two info lines per request, too many at webhook rates).
    logController: new LogController({ disableRequestLogging: true }),
    // The request's child logger (reqId) only once the request writes a line (logger.ts).
    childLoggerFactory: lazyRequestLogger as unknown as FastifyServerOptions['childLoggerFactory'],
    ajv: { customOptions: { removeAdditional: false as const, coerceTypes: 'array' as const, useDefaults: true } },
  };
}

/** The one line a request leaves: info for a refusal, debug (off by default) for a success. */
function logAnswer(request: FastifyRequest, reply: FastifyReply): void {
  const refused = reply.statusCode >= 400;
  // Built only when written: a success is a debug line, off by default.
  if (!refused && !(request.log as Logger).isLevelEnabled('debug')) return;
  // ip: the client address TRUST_PROXY vouches for, the one the allow-list and rate limit used.
  const line = { method: request.method, url: request.url.split('?')[0]?.slice(0, 200), ip: request.ip, statusCode: reply.statusCode, responseTimeMs: Math.round(reply.elapsedTime * 10) / 10 };
  if (refused) request.log.info(line, 'request refused');
  else request.log.debug(line, 'request completed');
}

/**
 * The relay as one Fastify plugin, its parts registered in order: what each needs is registered
 * before it. It does no I/O of its own; plugins open what they need and close it on `onClose`
 * (in reverse order: delivery stops before the sink and the store close).
 */
async function relayApp(app: FastifyInstance, opts: AppOptions) {
  let shuttingDown = false;
  const isShuttingDown = () => shuttingDown;
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });

  if (opts.tracing) await app.register(opts.tracing.fastifyPlugin);
  installErrorHandler(app);
  await app.register(listenersPlugin, { config: opts.config });
  await app.register(edgePlugin, { config: opts.config });
  app.addHook('onResponse', (request, reply, done) => {
    logAnswer(request, reply);
    done();
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  await app.register(storePlugin, { config: opts.config, ...(opts.store ? { store: opts.store } : {}) });
  await app.register(metricsPlugin);
  await app.register(sinkPlugin, { config: opts.config, ...(opts.sink ? { sink: opts.sink } : {}), ...(opts.now ? { now: opts.now } : {}) });
  await app.register(deliveryPlugin, { config: opts.config, ...(opts.now ? { now: opts.now } : {}) });
  // After delivery, so it stops first on close: it borrows the routes' token providers and the store.
  await app.register(accountingPlugin, { config: opts.config, ...(opts.now ? { now: opts.now } : {}) });

  await app.register(webhookRoute, { config: opts.config, isShuttingDown, ...(opts.now ? { now: opts.now } : {}) });
  await app.register(healthRoutes, { isShuttingDown, ...(opts.now ? { now: opts.now } : {}) });
  await app.register(adminRoutes, { config: opts.config, ...(opts.now ? { now: opts.now } : {}) });
  await app.register(consolePlugin, { config: opts.config });
}

// Not encapsulated, so the root instance (server.ts, tests) sees `store`, `sink` and `metrics`.
export default fp(relayApp, { name: 'relay' });
