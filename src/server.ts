import type { Server } from 'node:http';
import Fastify from 'fastify';
import relayApp, { serverOptions } from './app.js';
import { loadConfig, type Config, type Listener } from './config/config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';
import { activeTraceFields } from './tracing/spans.js';
import { startTracing, type Tracing } from './tracing/tracing.js';

/**
 * The process: read config, create the logger, listen, and close with grace on SIGTERM/SIGINT.
 * Everything else is built by app.ts.
 */
async function main() {
  let config: Config;
  let tracing: Tracing | undefined;
  try {
    config = loadConfig(process.env);
    tracing = await startTracing(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`capillary-aep-relay: configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  const logger = createLogger({ level: config.env.LOG_LEVEL, authHeader: config.auth.header, ...(tracing ? { traceFields: activeTraceFields } : {}) });
  const app = Fastify(serverOptions(config, logger));
  // Added before the app, so it runs after the app's own onClose: the last deliveries' spans are exported.
  if (tracing) app.addHook('onClose', tracing.shutdown);
  await app.register(relayApp, { config, ...(tracing ? { tracing } : {}) });

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    if (closing) return;
    logger.info({ signal, graceMs: config.env.SHUTDOWN_GRACE_MS }, 'shutting down: refusing new webhooks, finishing in-flight work');
    // A hard ceiling: in-flight requests and deliveries get the grace period, closing gets a little more.
    const ceiling = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.env.SHUTDOWN_GRACE_MS + 5000);
    closing = app.close().then(
      () => {
        clearTimeout(ceiling);
        logger.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Re-read ROUTES_FILE; a file that does not load is refused and logged, the routes in force stay.
  process.on('SIGHUP', () => {
    if (closing) return;
    void app.reloadRoutes().then((result) => {
      if (!result.ok && !config.env.ROUTES_FILE) logger.warn('SIGHUP: ROUTES_FILE is not set; nothing to reload');
    });
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  let opsPort: number | undefined;
  try {
    await app.listen({ port: config.port, host: config.host });
    if (app.opsServer && config.ops) opsPort = await listenOps(app.opsServer, config.ops);
  } catch (err) {
    logger.fatal({ err }, 'could not start');
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  const address = app.server.address();
  const dryRun = app.sink.name === 'dry-run';
  logger.info(
    {
      port: typeof address === 'object' && address ? address.port : config.port,
      // Without a port of its own, the operations endpoints share the public one.
      opsPort: opsPort ?? 'public port',
      mode: dryRun ? 'dry-run' : 'aep',
      store: config.store.url.startsWith('sqlite:') ? 'sqlite' : 'postgres',
      ...(dryRun ? { dryRunFile: config.dryRunFile } : {}),
      routes: app.routes.list().map((r) => ({ id: r.config.id, path: r.config.path, output: r.config.output, sink: r.sink.name })),
    },
    dryRun
      ? 'relay listening in DRY-RUN mode: AEP_INLET_URL is unset, messages are written to DRY_RUN_FILE, nothing is sent to Adobe'
      : 'relay listening: delivering to AEP',
  );
}

function listenOps(server: Server, listener: Listener): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, listener.host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : listener.port);
    });
  });
}

void main();
