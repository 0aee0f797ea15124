import pino from 'pino';
import { createDispatcher } from '../adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../adobe/ims-token-provider.js';
import { routePlatform } from '../adobe/platform/route-platform.js';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { createMetrics } from '../metrics.js';
import { formatReport } from '../setup-check/format-report.js';
import { checkRoute } from '../setup-check/run-setup-check.js';
import { exitCodeOf, type SetupReport } from '../setup-check/types.js';

const USAGE = 'usage: npm run check-setup -- [--route <routeId>] [--json]\n';

/**
 * `npm run check-setup -- [--route ID] [--json]` (issue 16, docs/setup-check.md): reads each route's
 * AEP sandbox with the route's own credential and prints, check by check, whether what the relay
 * sends can land. The same settings as the server (environment or ROUTES_FILE). Exit 0 when no check
 * fails, 1 when one does, 2 for a usage or configuration error. Nothing is sent to the inlet.
 */
async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== '--');
  let routeId: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--route' && args[i + 1] && !args[i + 1]!.startsWith('-')) routeId = args[++i];
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      return 0;
    } else {
      process.stderr.write(`unknown argument ${arg}\n${USAGE}`);
      return 2;
    }
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    // The check serves nothing, so it needs no webhook secret.
    config = loadConfig({ CAPILLARY_AUTH_DISABLED: 'true', ...process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const routes = routeId === undefined ? config.routes : config.routes.filter((r) => r.id === routeId);
  if (routes.length === 0) {
    process.stderr.write(`no route ${routeId} (routes: ${config.routes.map((r) => r.id).join(', ')})\n`);
    return 2;
  }

  // Logs (warnings of the token provider and client) go to standard error; the report to standard output.
  const logger = pino({ level: config.env.LOG_LEVEL === 'info' ? 'warn' : config.env.LOG_LEVEL }, pino.destination(2));
  const metrics = createMetrics({ defaultMetrics: false });
  const timeoutMs = config.env.DELIVERY_REQUEST_TIMEOUT_MS;
  const dispatcher = createDispatcher({ headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
  // One token per credential, as in the server: routes of one brand share it.
  const providers = new Map<string, TokenProvider>();
  try {
    const report: SetupReport = { routes: [] };
    for (const route of routes) {
      let tokens: TokenProvider | undefined;
      if (route.credentials) {
        const key = JSON.stringify(route.credentials);
        tokens = providers.get(key) ?? createImsTokenProvider({ ...route.credentials, dispatcher, logger: logger.child({ component: 'ims', route: route.id }), metrics, requestTimeoutMs: timeoutMs });
        providers.set(key, tokens);
      }
      const platform = routePlatform({ route, tokens, dispatcher, timeoutMs, logger: logger.child({ component: 'platform', route: route.id }) });
      report.routes.push(await checkRoute({ route, platform }));
    }
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return exitCodeOf(report);
  } finally {
    await Promise.all([...providers.values()].map((p) => p.close()));
    await dispatcher.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`check-setup failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
