import { ConfigError } from '../errors.js';
import type { MappingOptions } from '../mapping/types.js';
import { EXAMPLE_WEBHOOK_SECRET, MIN_WEBHOOK_SECRET_LENGTH, type RouteEnv } from './env-schema.js';

export interface AdobeConfig {
  imsUrl: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  inletUrl: string;
}

/** Where a route's messages go, by output. */
export type AepOutput = 'xdm' | 'source' | 'raw';

/** One dataflow's streaming endpoint (AEP_OUTPUT=source posts each payload there, one a request). */
export interface SourceEndpoint {
  inletUrl: string;
  flowId: string;
}

/** What the relay reads of the customer's sandbox, and what it does with messages that do not fit. */
export interface PlatformSettings {
  url: string;
  /** Lower case, as Adobe wants it. */
  sandboxName: string;
  /** ADOBE_ORG_ID; without it the Platform APIs cannot be called. */
  orgId: string | undefined;
  schemaValidation: 'hold' | 'warn' | 'off';
}

/** Capillary's own APIs for one brand (issue 17): OAuth key and secret, and the webhook's consumer group. */
export interface CapillaryApiConfig {
  url: string;
  key: string;
  secret: string;
  /** The header that carries the token: `X-CAP-API-OAUTH-TOKEN` by default; `Authorization` sends `Bearer <token>`. */
  tokenHeader: string;
  consumerGroupId: string;
}

/** Credentials without the inlet: routes with equal credentials share one token provider. */
export type ImsCredentials = Omit<AdobeConfig, 'inletUrl'>;

/**
 * One route: a Capillary brand (its secrets, its org ids) to one Adobe destination. Everything a
 * route's delivery uses is here, so nothing of one route can reach another's.
 */
export interface RouteConfig {
  /** `default` for the environment's route; the key in ROUTES_FILE otherwise. */
  id: string;
  /** Where Capillary posts: /webhooks/capillary (environment) or /webhooks/capillary/<id>. */
  path: string;
  secrets: string[];
  /** undefined: any org (the environment's route without CAPILLARY_ORG_IDS). */
  orgIds: ReadonlySet<string> | undefined;
  output: AepOutput;
  /** undefined: dry-run (no inlet configured). */
  adobe: AdobeConfig | { inletUrl: string; clientId?: undefined } | undefined;
  /** AEP_OUTPUT=source: the profile and transaction dataflows (either may be absent). */
  source: { profile?: SourceEndpoint; transaction?: SourceEndpoint } | undefined;
  /** IMS credentials, also for source routes (which have no AEP_INLET_URL). */
  credentials: ImsCredentials | undefined;
  mapping: MappingOptions;
  dryRunFile: string;
  rateCaps: { requestsPerSecond: number; messagesPerSecond: number };
  circuitOpenMs: number;
  /** Where the route's sandbox is read (issue 16): the setup check and the schemas messages are held to. */
  platform: PlatformSettings;
  /** Capillary's APIs (issue 17); undefined: accounting has no Capillary column for this route. */
  capillaryApi: CapillaryApiConfig | undefined;
  /** The validated settings, secrets included: reload compares them to keep unchanged routes running. */
  settings: RouteEnv;
}

export const ENV_ROUTE_ID = 'default';
export const WEBHOOK_PATH = '/webhooks/capillary';
/** Route ids are path segments and metric label values: short, lowercase, no surprises. */
export const ROUTE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const splitList = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);

function parsePairs(value: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of splitList(value)) {
    const [key, namespace] = item.split('=').map((s) => s.trim());
    if (key && namespace) pairs[key.toLowerCase()] = namespace;
  }
  return pairs;
}

/**
 * Builds one route from validated settings. `name` prefixes variable names in errors
 * (`routes.brand-a.` for ROUTES_FILE), so a message points at the line to fix.
 */
export function buildRoute(id: string, e: RouteEnv, options: { fromFile: boolean; authDisabled: boolean; name?: (variable: string) => string }): RouteConfig {
  const name = options.name ?? ((v: string) => v);
  const fail = (variable: string, expected: string) => new ConfigError(name(variable), expected);

  const secrets = splitList(e.CAPILLARY_AUTH_SECRETS);
  if (secrets.length === 0 && !options.authDisabled) {
    throw fail('CAPILLARY_AUTH_SECRETS', 'at least one accepted webhook secret (or CAPILLARY_AUTH_DISABLED=true, for development only)');
  }
  for (const secret of secrets) {
    if (secret === EXAMPLE_WEBHOOK_SECRET) throw fail('CAPILLARY_AUTH_SECRETS', "a secret of your own, not .env.example's placeholder");
    if (secret.length < MIN_WEBHOOK_SECRET_LENGTH) throw fail('CAPILLARY_AUTH_SECRETS', `secrets of at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (one is shorter)`);
  }
  const orgIds = splitList(e.CAPILLARY_ORG_IDS);
  if (options.fromFile && orgIds.length === 0) throw fail('CAPILLARY_ORG_IDS', 'the Capillary org ids this route accepts (comma-separated)');
  if (orgIds.some((org) => !/^\d{1,19}$/.test(org))) throw fail('CAPILLARY_ORG_IDS', 'numeric Capillary org ids, comma-separated');

  const credentials = credentialsOf(e, fail);
  const output = e.AEP_OUTPUT;
  const source = output === 'source' ? sourceEndpoints(e, fail) : undefined;
  if (output === 'source' && e.AEP_INLET_URL) throw fail('AEP_INLET_URL', 'unset with AEP_OUTPUT=source (give AEP_SOURCE_PROFILE_INLET_URL and AEP_SOURCE_TRANSACTION_INLET_URL)');
  const adobe = output === 'source' ? undefined : adobeOf(e, output, credentials, fail);

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
  if (mapping.profile && !e.AEP_PROFILE_SCHEMA_ID) throw fail('AEP_PROFILE_SCHEMA_ID', 'the Profile schema $id, since AEP_PROFILE_DATASET_ID is set');

  return {
    id,
    path: options.fromFile ? `${WEBHOOK_PATH}/${id}` : WEBHOOK_PATH,
    secrets,
    orgIds: orgIds.length > 0 ? new Set(orgIds) : undefined,
    output,
    adobe,
    source,
    credentials,
    mapping,
    dryRunFile: e.DRY_RUN_FILE,
    rateCaps: { requestsPerSecond: e.AEP_MAX_REQUESTS_PER_SECOND, messagesPerSecond: e.AEP_MAX_MESSAGES_PER_SECOND },
    circuitOpenMs: e.CIRCUIT_OPEN_MS,
    platform: { url: e.AEP_PLATFORM_URL, sandboxName: e.AEP_SANDBOX_NAME.toLowerCase(), orgId: e.ADOBE_ORG_ID, schemaValidation: e.AEP_SCHEMA_VALIDATION },
    capillaryApi: capillaryApiOf(e, fail),
    settings: e,
  };
}

type Fail = (variable: string, expected: string) => ConfigError;

function credentialsOf(e: RouteEnv, fail: Fail): ImsCredentials | undefined {
  const given = [e.ADOBE_CLIENT_ID, e.ADOBE_CLIENT_SECRET].filter(Boolean).length;
  if (given === 1) {
    throw fail(e.ADOBE_CLIENT_ID ? 'ADOBE_CLIENT_SECRET' : 'ADOBE_CLIENT_ID', 'both ADOBE_CLIENT_ID and ADOBE_CLIENT_SECRET, or neither (unauthenticated inlet)');
  }
  if (!e.ADOBE_CLIENT_ID || !e.ADOBE_CLIENT_SECRET) return undefined;
  return { imsUrl: e.ADOBE_IMS_URL, clientId: e.ADOBE_CLIENT_ID, clientSecret: e.ADOBE_CLIENT_SECRET, scopes: e.ADOBE_SCOPES };
}

const CAPILLARY_API_VARIABLES = ['CAPILLARY_API_URL', 'CAPILLARY_API_KEY', 'CAPILLARY_API_SECRET', 'CAPILLARY_CONSUMER_GROUP_ID'] as const;

/** All four settings or none: half a Capillary API setup would fail only later, inside the accounting job. */
function capillaryApiOf(e: RouteEnv, fail: Fail): CapillaryApiConfig | undefined {
  const missing = CAPILLARY_API_VARIABLES.filter((name) => !e[name]);
  if (missing.length === CAPILLARY_API_VARIABLES.length) return undefined;
  if (missing.length > 0) throw fail(missing[0]!, `a value, since ${CAPILLARY_API_VARIABLES.find((name) => e[name])} is set (Capillary's API needs ${CAPILLARY_API_VARIABLES.join(', ')})`);
  return { url: e.CAPILLARY_API_URL!, key: e.CAPILLARY_API_KEY!, secret: e.CAPILLARY_API_SECRET!, tokenHeader: e.CAPILLARY_API_TOKEN_HEADER, consumerGroupId: e.CAPILLARY_CONSUMER_GROUP_ID! };
}

function adobeOf(e: RouteEnv, output: AepOutput, credentials: ImsCredentials | undefined, fail: Fail): RouteConfig['adobe'] {
  if (!e.AEP_INLET_URL) return undefined;
  if (output === 'xdm') {
    for (const variable of ['AEP_EVENT_DATASET_ID', 'AEP_EVENT_SCHEMA_ID'] as const) {
      if (!e[variable]) throw fail(variable, 'a value, since AEP_INLET_URL is set');
    }
  }
  // Without credentials the inlet is an unauthenticated one: messages go without a token.
  return credentials ? { ...credentials, inletUrl: e.AEP_INLET_URL } : { inletUrl: e.AEP_INLET_URL };
}

function sourceEndpoints(e: RouteEnv, fail: Fail): RouteConfig['source'] {
  const endpoint = (url: string | undefined, flowId: string | undefined, urlName: string, flowName: string): SourceEndpoint | undefined => {
    if (!url && !flowId) return undefined;
    if (!url) throw fail(urlName, `the dataflow's streaming endpoint URL, since ${flowName} is set`);
    if (!flowId) throw fail(flowName, `the dataflow id, since ${urlName} is set`);
    return { inletUrl: url, flowId };
  };
  const profile = endpoint(e.AEP_SOURCE_PROFILE_INLET_URL, e.AEP_SOURCE_PROFILE_FLOW_ID, 'AEP_SOURCE_PROFILE_INLET_URL', 'AEP_SOURCE_PROFILE_FLOW_ID');
  const transaction = endpoint(e.AEP_SOURCE_TRANSACTION_INLET_URL, e.AEP_SOURCE_TRANSACTION_FLOW_ID, 'AEP_SOURCE_TRANSACTION_INLET_URL', 'AEP_SOURCE_TRANSACTION_FLOW_ID');
  // Neither: a dry-run source route (payloads go to DRY_RUN_FILE).
  if (!profile && !transaction) return undefined;
  return { ...(profile ? { profile } : {}), ...(transaction ? { transaction } : {}) };
}
