import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConfigError } from '../errors.js';
import type { MappingOptions } from '../mapping/types.js';
import { EnvSchema, MIN_ADMIN_TOKEN_LENGTH, ROUTE_SETTINGS, SECRET_VARIABLES, type Env } from './env-schema.js';
import { buildRoute, ENV_ROUTE_ID, type AdobeConfig, type RouteConfig } from './route-config.js';
import { loadRoutesFile } from './routes-file.js';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type { AdobeConfig, RouteConfig } from './route-config.js';

export interface Listener {
  port: number;
  host: string;
}

export interface Config {
  env: Env;
  port: number;
  host: string;
  /** The operations listener (/metrics, /admin/*); undefined when OPS_PORT equals PORT (one listener serves all). */
  ops: Listener | undefined;
  /** Which proxies' X-Forwarded-For to believe (Fastify's trustProxy). */
  trustProxy: TrustProxy;
  auth: { header: string; secrets: string[]; disabled: boolean };
  /** undefined: dry-run (no AEP inlet configured). */
  adobe: AdobeConfig | { inletUrl: string; clientId?: undefined } | undefined;
  mapping: MappingOptions;
  /**
   * Every route the relay serves: the environment's one (at /webhooks/capillary), or ROUTES_FILE's.
   * `auth`, `adobe`, `mapping` and `dryRunFile` above describe the environment's route.
   */
  routes: RouteConfig[];
  store: { url: string; synchronous: 'full' | 'normal'; checkpointIntervalMs: number; maxSizeBytes?: number; queryTimeoutMs: number; dedupRetentionMs: number; pruneIntervalMs: number };
  dryRunFile: string;
  adminToken: string | undefined;
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false, strict: false });
addFormats(ajv);
const validateEnv = ajv.compile<Env>(EnvSchema);

/** Secrets may come from files (`<NAME>_FILE`), as Docker and Kubernetes secrets are mounted. */
function resolveSecretFiles(source: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    // An empty variable counts as unset, as in most process managers' env files.
    if (value !== undefined && value !== '') env[key] = value;
  }
  for (const name of SECRET_VARIABLES) {
    const file = source[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined) throw new ConfigError(`${name}_FILE`, `either ${name} or ${name}_FILE, not both`);
    try {
      env[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new ConfigError(`${name}_FILE`, `a readable file (could not read ${file})`);
    }
  }
  return env;
}

function describeExpected(variable: string, message: string | undefined): string {
  const schema = (EnvSchema.properties as Record<string, { description?: string }>)[variable];
  return `${message ?? 'a valid value'}${schema?.description ? ` (${schema.description})` : ''}`;
}

/**
 * Reads and checks every setting. Throws ConfigError naming the variable and what was expected;
 * server.ts prints that one line and exits.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const env = resolveSecretFiles(source);
  if (!validateEnv(env)) {
    const error = validateEnv.errors?.[0];
    const variable = error?.instancePath.replace(/^\//, '') || String(error?.params?.['missingProperty'] ?? 'environment');
    throw new ConfigError(variable, describeExpected(variable, error?.message));
  }
  const e = env as unknown as Env;

  if (e.ADMIN_TOKEN !== undefined && e.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError('ADMIN_TOKEN', `at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`);
  }
  if (e.DELIVERY_LEASE_MS <= e.DELIVERY_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('DELIVERY_LEASE_MS', `more than DELIVERY_REQUEST_TIMEOUT_MS (${e.DELIVERY_REQUEST_TIMEOUT_MS}), so a lease never expires under a live request`);
  }

  let routes: RouteConfig[];
  let envRoute: RouteConfig;
  if (e.ROUTES_FILE) {
    // No route inherits from the environment: a route setting there would be silently unused.
    const stray = Object.keys(ROUTE_SETTINGS).find((name) => Boolean(source[name]) || Boolean(source[`${name}_FILE`]));
    if (stray) throw new ConfigError(stray, `unset, since ROUTES_FILE is set (each route of the file has its own ${stray})`);
    routes = loadRoutesFile(e.ROUTES_FILE, { environment: source, authDisabled: e.CAPILLARY_AUTH_DISABLED });
    envRoute = buildRoute(ENV_ROUTE_ID, e, { fromFile: false, authDisabled: true });
  } else {
    envRoute = buildRoute(ENV_ROUTE_ID, e, { fromFile: false, authDisabled: e.CAPILLARY_AUTH_DISABLED });
    routes = [envRoute];
  }
  const mapping: MappingOptions = envRoute.mapping;
  const adobe: Config['adobe'] = envRoute.adobe;
  const secrets = envRoute.secrets;

  // Port 0 asks for any free port, so two zeros are two listeners (tests run both that way).
  const oneListener = e.OPS_PORT === e.PORT && e.PORT !== 0;
  return {
    env: e,
    port: e.PORT,
    host: e.HOST,
    ops: oneListener ? undefined : { port: e.OPS_PORT, host: e.OPS_HOST ?? e.HOST },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    auth: { header: e.CAPILLARY_AUTH_HEADER.toLowerCase(), secrets, disabled: e.CAPILLARY_AUTH_DISABLED },
    adobe,
    mapping,
    routes,
    store: {
      url: e.STORE_URL,
      synchronous: e.STORE_SYNCHRONOUS,
      checkpointIntervalMs: e.STORE_CHECKPOINT_INTERVAL_MS,
      ...(e.STORE_MAX_SIZE_MB !== undefined ? { maxSizeBytes: e.STORE_MAX_SIZE_MB * 1024 * 1024 } : {}),
      queryTimeoutMs: e.STORE_QUERY_TIMEOUT_MS,
      dedupRetentionMs: e.DEDUP_RETENTION_HOURS * 3_600_000,
      pruneIntervalMs: e.PRUNE_INTERVAL_MS,
    },
    dryRunFile: envRoute.dryRunFile,
    adminToken: e.ADMIN_TOKEN,
  };
}
