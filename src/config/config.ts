import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConfigError } from '../errors.js';
import type { MappingOptions } from '../mapping/types.js';
import { EnvSchema, EXAMPLE_WEBHOOK_SECRET, MIN_ADMIN_TOKEN_LENGTH, MIN_WEBHOOK_SECRET_LENGTH, SECRET_VARIABLES, type Env } from './env-schema.js';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface AdobeConfig {
  imsUrl: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  inletUrl: string;
}

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

const splitList = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);

function parsePairs(value: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of splitList(value)) {
    const [key, namespace] = item.split('=').map((s) => s.trim());
    if (key && namespace) pairs[key.toLowerCase()] = namespace;
  }
  return pairs;
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

  const secrets = splitList(e.CAPILLARY_AUTH_SECRETS);
  if (secrets.length === 0 && !e.CAPILLARY_AUTH_DISABLED) {
    throw new ConfigError('CAPILLARY_AUTH_SECRETS', 'at least one accepted webhook secret (or CAPILLARY_AUTH_DISABLED=true, for development only)');
  }
  checkSecretStrength(secrets, e.ADMIN_TOKEN);
  if (e.DELIVERY_LEASE_MS <= e.DELIVERY_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('DELIVERY_LEASE_MS', `more than DELIVERY_REQUEST_TIMEOUT_MS (${e.DELIVERY_REQUEST_TIMEOUT_MS}), so a lease never expires under a live request`);
  }

  const adobe = adobeConfig(e);
  const tenantId = e.AEP_TENANT_ID?.replace(/^_/, '');
  const mapping: MappingOptions = {
    event: { datasetId: e.AEP_EVENT_DATASET_ID ?? 'dry-run-event-dataset', schemaId: e.AEP_EVENT_SCHEMA_ID ?? 'https://ns.adobe.com/dry-run/schemas/experience-event' },
    ...(e.AEP_PROFILE_DATASET_ID ? { profile: { datasetId: e.AEP_PROFILE_DATASET_ID, schemaId: e.AEP_PROFILE_SCHEMA_ID ?? '' } } : {}),
    ...(e.ADOBE_ORG_ID ? { imsOrgId: e.ADOBE_ORG_ID } : {}),
    ...(e.AEP_FLOW_ID ? { flowId: e.AEP_FLOW_ID } : {}),
    sourceName: e.AEP_SOURCE_NAME,
    ...(tenantId ? { tenantId } : {}),
    identity: {
      customerId: e.IDENTITY_NAMESPACE_CUSTOMER_ID,
      email: e.IDENTITY_NAMESPACE_EMAIL,
      phone: e.IDENTITY_NAMESPACE_PHONE,
      // An empty variable counts as unset (default), so `none` is how to leave externalId out.
      externalId: e.IDENTITY_NAMESPACE_EXTERNAL_ID === 'none' ? '' : e.IDENTITY_NAMESPACE_EXTERNAL_ID,
      channels: parsePairs(e.IDENTITY_CHANNEL_NAMESPACES),
    },
    hashIdentities: e.IDENTITY_HASH,
    legacyLoyaltySchema: e.XDM_LEGACY_LOYALTY_SCHEMA,
  };
  if (mapping.profile && !e.AEP_PROFILE_SCHEMA_ID) throw new ConfigError('AEP_PROFILE_SCHEMA_ID', 'the Profile schema $id, since AEP_PROFILE_DATASET_ID is set');

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
    store: {
      url: e.STORE_URL,
      synchronous: e.STORE_SYNCHRONOUS,
      checkpointIntervalMs: e.STORE_CHECKPOINT_INTERVAL_MS,
      ...(e.STORE_MAX_SIZE_MB !== undefined ? { maxSizeBytes: e.STORE_MAX_SIZE_MB * 1024 * 1024 } : {}),
      queryTimeoutMs: e.STORE_QUERY_TIMEOUT_MS,
      dedupRetentionMs: e.DEDUP_RETENTION_HOURS * 3_600_000,
      pruneIntervalMs: e.PRUNE_INTERVAL_MS,
    },
    dryRunFile: e.DRY_RUN_FILE,
    adminToken: e.ADMIN_TOKEN,
  };
}

/**
 * A secret an attacker can guess is no secret: the public port faces the internet. The message names
 * the variable and the rule, never the value.
 */
function checkSecretStrength(webhookSecrets: string[], adminToken: string | undefined): void {
  for (const secret of webhookSecrets) {
    if (secret === EXAMPLE_WEBHOOK_SECRET) {
      throw new ConfigError('CAPILLARY_AUTH_SECRETS', "a secret of your own, not .env.example's placeholder");
    }
    if (secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
      throw new ConfigError('CAPILLARY_AUTH_SECRETS', `secrets of at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (one is shorter)`);
    }
  }
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError('ADMIN_TOKEN', `at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`);
  }
}

function adobeConfig(e: Env): Config['adobe'] {
  if (!e.AEP_INLET_URL) return undefined;
  for (const variable of ['AEP_EVENT_DATASET_ID', 'AEP_EVENT_SCHEMA_ID'] as const) {
    if (!e[variable]) throw new ConfigError(variable, 'a value, since AEP_INLET_URL is set');
  }
  const credentials = [e.ADOBE_CLIENT_ID, e.ADOBE_CLIENT_SECRET].filter(Boolean).length;
  if (credentials === 1) {
    throw new ConfigError(e.ADOBE_CLIENT_ID ? 'ADOBE_CLIENT_SECRET' : 'ADOBE_CLIENT_ID', 'both ADOBE_CLIENT_ID and ADOBE_CLIENT_SECRET, or neither (unauthenticated inlet)');
  }
  // Without credentials the inlet is an unauthenticated one: messages go without a token.
  if (!e.ADOBE_CLIENT_ID || !e.ADOBE_CLIENT_SECRET) return { inletUrl: e.AEP_INLET_URL };
  return { imsUrl: e.ADOBE_IMS_URL, clientId: e.ADOBE_CLIENT_ID, clientSecret: e.ADOBE_CLIENT_SECRET, scopes: e.ADOBE_SCOPES, inletUrl: e.AEP_INLET_URL };
}
