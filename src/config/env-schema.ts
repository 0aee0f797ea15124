import { Type, type Static } from '@sinclair/typebox';

/**
 * Every setting the relay reads, as one schema: the single source for validation at boot, for
 * defaults, and for `.env.example` / docs/configuration.md (a test keeps them in step). Values arrive as strings;
 * ajv coerces them. Names in the first block are a contract with users (shared interface notes).
 */
const bool = (defaultValue: boolean, description: string) => Type.Boolean({ default: defaultValue, description });
const int = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: defaultValue, minimum, maximum, description });
const text = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));

export const SECRET_VARIABLES = ['CAPILLARY_AUTH_SECRETS', 'ADOBE_CLIENT_SECRET', 'CAPILLARY_API_SECRET', 'ADMIN_TOKEN'] as const;
/** The secrets of a route: in ROUTES_FILE only as `<NAME>_FILE` or `<NAME>_ENV`, never literally. */
export const ROUTE_SECRET_VARIABLES = ['CAPILLARY_AUTH_SECRETS', 'ADOBE_CLIENT_SECRET', 'CAPILLARY_API_SECRET'] as const;

/** The webhook secret `.env.example` ships: refused at start, so a copied example never goes live. */
export const EXAMPLE_WEBHOOK_SECRET = 'change-me-to-the-value-capillary-sends';
/** Shortest accepted webhook secret and admin token (guessable values are refused at start). */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/**
 * Settings of one route (one Capillary brand to one Adobe destination): the same names in the
 * environment (the single route at /webhooks/capillary) and under each route of ROUTES_FILE.
 */
export const ROUTE_SETTINGS = {
  // Capillary authentication
  CAPILLARY_AUTH_SECRETS: text('comma-separated accepted values of the auth header (several, for rotation)'),

  // Adobe IMS (OAuth server-to-server)
  ADOBE_IMS_URL: Type.String({ default: 'https://ims-na1.adobelogin.com/ims/token/v3', format: 'uri', description: 'IMS token endpoint' }),
  ADOBE_CLIENT_ID: text('OAuth server-to-server client id'),
  ADOBE_CLIENT_SECRET: text('OAuth server-to-server client secret'),
  ADOBE_ORG_ID: text('IMS organization id (`...@AdobeOrg`)'),
  ADOBE_SCOPES: Type.String({ default: 'openid,AdobeID,read_organizations,additional_info.projectedProductContext,session', minLength: 1, description: 'token scopes' }),

  // AEP streaming
  AEP_INLET_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', description: 'streaming inlet URL; unset means dry-run' })),
  AEP_FLOW_ID: text('dataflow id, sent as x-adobe-flow-id and header.flowId'),
  AEP_EVENT_DATASET_ID: text('dataset for ExperienceEvents'),
  AEP_EVENT_SCHEMA_ID: text('schema $id for ExperienceEvents'),
  AEP_PROFILE_DATASET_ID: text('dataset for Profile records; unset means no profile records'),
  AEP_PROFILE_SCHEMA_ID: text('schema $id for Profile records'),
  AEP_TENANT_ID: Type.Optional(Type.String({ pattern: '^_?[A-Za-z0-9]+$', description: 'tenant namespace for custom fields; unset means none are sent' })),
  AEP_SOURCE_NAME: Type.String({ default: 'capillary-aep-relay', minLength: 1, description: 'header.source.name of every message' }),

  // Mapping
  IDENTITY_NAMESPACE_CUSTOMER_ID: Type.String({ default: 'CapillaryId', minLength: 1, description: 'identity namespace for customerId (primary)' }),
  IDENTITY_NAMESPACE_EMAIL: Type.String({ default: 'Email', minLength: 1, description: 'identity namespace for instore.email' }),
  IDENTITY_NAMESPACE_PHONE: Type.String({ default: 'Phone', minLength: 1, description: 'identity namespace for instore.mobile' }),
  IDENTITY_NAMESPACE_EXTERNAL_ID: Type.String({ default: 'CapillaryExternalId', description: 'identity namespace for instore.externalId; none leaves it out' }),
  IDENTITY_CHANNEL_NAMESPACES: Type.String({ default: '', pattern: '^$|^[^=,]+=[^=,]+(,[^=,]+=[^=,]+)*$', description: 'identifierType=Namespace pairs for channel identifiers, comma-separated' }),
  IDENTITY_HASH: bool(false, 'SHA-256 hash email and phone identities'),
  XDM_LEGACY_LOYALTY_SCHEMA: bool(false, 'leave out Loyalty Details fields added to XDM in 2025-2026'),

  // Dry run (no inlet)
  DRY_RUN_FILE: Type.String({ default: './data/dry-run.ndjson', minLength: 1, description: 'dry-run output, one DCS message a line' }),

  // Delivery to this route's Adobe endpoints
  CIRCUIT_OPEN_MS: int(500, 100, 3_600_000, 'longest pause between probes (one message each) while most AEP requests fail (the first pause is 0.5 s at most, doubling)'),
  AEP_MAX_REQUESTS_PER_SECOND: int(1000, 1, 100_000, 'cap on requests per second to the inlet (Adobe: 1,000)'),
  AEP_MAX_MESSAGES_PER_SECOND: int(10_000, 1, 1_000_000, 'cap on messages per second to the inlet (Adobe: 10,000)'),

  // Routes (issue 13)
  CAPILLARY_ORG_IDS: text('comma-separated Capillary org ids this route accepts (payload orgId, or the prefix of eventType); others are held, never delivered. Required in ROUTES_FILE; unset in the environment accepts any org'),
  AEP_OUTPUT: Type.Union([Type.Literal('xdm'), Type.Literal('source'), Type.Literal('raw')], { default: 'xdm', description: "xdm: XDM messages to AEP_INLET_URL; source: the payloads of Adobe's Capillary source to its dataflows; raw: the webhook body as received to AEP_INLET_URL" }),
  AEP_SOURCE_PROFILE_INLET_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', description: "AEP_OUTPUT=source: streaming endpoint of the Capillary source's profile dataflow" })),
  AEP_SOURCE_PROFILE_FLOW_ID: text("AEP_OUTPUT=source: the profile dataflow's id, sent as x-adobe-flow-id"),
  AEP_SOURCE_TRANSACTION_INLET_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', description: "AEP_OUTPUT=source: streaming endpoint of the Capillary source's transaction dataflow" })),
  AEP_SOURCE_TRANSACTION_FLOW_ID: text("AEP_OUTPUT=source: the transaction dataflow's id, sent as x-adobe-flow-id"),

  // The customer's own sandbox, read through the Platform APIs (issue 16, docs/setup-check.md)
  AEP_PLATFORM_URL: Type.String({ default: 'https://platform.adobe.io', format: 'uri', pattern: '^https?://', description: 'Platform API host (Schema Registry, Catalog, Identity, Flow Service) for the setup check and schema validation; regional hosts such as https://platform-va7.adobe.io work too' }),
  AEP_SANDBOX_NAME: Type.String({ default: 'prod', pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$', description: "the sandbox the inlet, datasets and schemas live in (sent lower-case as x-sandbox-name)" }),
  AEP_SCHEMA_VALIDATION: Type.Union([Type.Literal('hold'), Type.Literal('warn'), Type.Literal('off')], { default: 'hold', description: "hold: an XDM message that does not fit the customer's schema is not sent (dead letter schema_mismatch); warn: sent and counted; off: not checked" }),

  // Capillary's own APIs, for accounting (issue 17): all four of URL, key, secret and consumer group, or none
  CAPILLARY_API_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', description: "Capillary API host of the brand's cluster, e.g. https://eu.intouch.capillarytech.com; unset: no Capillary column in accounting" })),
  CAPILLARY_API_KEY: text('Capillary OAuth client key, for /v3/oauth/token/generate'),
  CAPILLARY_API_SECRET: text('Capillary OAuth client secret'),
  CAPILLARY_API_TOKEN_HEADER: Type.String({ default: 'X-CAP-API-OAUTH-TOKEN', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', description: 'header that carries the Capillary token (Authorization sends it as a Bearer token)' }),
  CAPILLARY_CONSUMER_GROUP_ID: text("the webhook's consumerGroupId (GET /v3/webHooks), whose delivery counts and logs accounting reads"),
};

/** Settings of the process: listeners, store, delivery engine, operations. Environment only. */
export const PROCESS_SETTINGS = {
  // Listening
  PORT: int(8080, 0, 65535, 'public port: POST /webhooks/capillary, /healthz and /readyz only'),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'interface of the public port' }),
  OPS_PORT: int(9464, 0, 65535, 'operations port: /metrics, /admin/*, /healthz, /readyz; equal to PORT serves everything on one listener'),
  OPS_HOST: text('interface of the operations port (default: HOST)'),

  // Capillary authentication
  CAPILLARY_AUTH_HEADER: Type.String({ default: 'authorization', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', description: 'the header Capillary is configured to send' }),
  CAPILLARY_AUTH_DISABLED: bool(false, 'true accepts webhooks without authentication (development only)'),
  WEBHOOK_BODY_LIMIT_BYTES: int(2_097_152, 1_048_576, 104_857_600, 'largest webhook body accepted (413 above it)'),
  WEBHOOK_ALLOWED_CIDRS: text('comma-separated CIDR ranges allowed to call the webhook route (unset: any)'),
  RATE_LIMIT_MAX: int(20_000, 1, 10_000_000, 'webhook calls allowed per source address per window (429 above it)'),
  RATE_LIMIT_WINDOW_MS: int(1000, 100, 3_600_000, 'rate limit window in milliseconds'),
  TRUST_PROXY: Type.String({ default: 'false', minLength: 1, description: 'whose X-Forwarded-For to believe: false, a hop count, or comma-separated proxy addresses and CIDRs (true is refused)' }),

  // Store
  STORE_URL: Type.String({ default: 'sqlite:./data/relay.db', pattern: '^(sqlite:|postgres(ql)?://)', description: 'sqlite:<path> or postgres://user:pass@host:5432/db' }),
  STORE_SYNCHRONOUS: Type.Union([Type.Literal('full'), Type.Literal('normal')], { default: 'full', description: 'SQLite: full survives power loss, normal survives process crashes only' }),
  STORE_CHECKPOINT_INTERVAL_MS: int(1000, 0, 60_000, 'SQLite: checkpoint the WAL on a separate thread this often; 0 leaves it to SQLite, inside commits'),
  STORE_MAX_SIZE_MB: Type.Optional(Type.Integer({ minimum: 4, maximum: 16_777_216, description: 'SQLite: cap on the database file; past it webhooks answer 503 and /readyz fails (2 MB before) rather than the disk filling; unset: no cap' })),
  STORE_QUERY_TIMEOUT_MS: int(5000, 500, 600_000, 'PostgreSQL: a query (a webhook commit included) that has no answer by then fails, and the webhook answers 503'),
  DEDUP_RETENTION_HOURS: int(192, 192, 87_600, 'how long event ids are remembered for deduplication; at least 192 (8 days) since Capillary retries for 7 days'),
  PRUNE_INTERVAL_MS: int(600_000, 1000, 86_400_000, 'how often delivered rows past retention are pruned'),

  // Delivery
  DELIVERY_BATCH_MAX_MESSAGES: int(500, 1, 10_000, 'messages per AEP batch request at most'),
  DELIVERY_BATCH_MAX_BYTES: int(950_000, 10_000, 1_000_000, 'bytes per AEP batch request at most (Adobe: 1 MB)'),
  DELIVERY_LINGER_MS: int(50, 0, 10_000, 'when the queue is shallow, claim at most once per this many ms so batches fill'),
  DELIVERY_CONCURRENCY: int(4, 1, 64, 'batches in flight at once per process'),
  DELIVERY_REQUEST_TIMEOUT_MS: int(15_000, 100, 300_000, 'timeout of one AEP request'),
  DELIVERY_LEASE_MS: int(60_000, 1000, 3_600_000, 'lease on claimed messages; must exceed the request timeout'),
  DELIVERY_POLL_INTERVAL_MS: int(1000, 10, 60_000, 'how often an idle worker looks for due work (new work wakes it at once)'),
  DELIVERY_RETRY_BASE_MS: int(1000, 1, 3_600_000, 'first retry delay (exponential, full jitter)'),
  DELIVERY_RETRY_MAX_MS: int(600_000, 1, 86_400_000, 'longest retry delay'),
  DELIVERY_MAX_AGE_HOURS: int(168, 1, 8760, 'how long a message is retried before it is dead-lettered as expired'),
  AEP_SCHEMA_REFRESH_MS: int(900_000, 1000, 86_400_000, "how often each route's schemas are fetched again from the Schema Registry (Adobe caches schema changes for about 15 minutes)"),

  // Operations
  ADMIN_TOKEN: text('bearer token for /admin/*; unset turns the admin API off'),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level' }),
  SHUTDOWN_GRACE_MS: int(10_000, 0, 600_000, 'how long shutdown waits for in-flight requests and deliveries'),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 1000, 600_000, 'a request must arrive whole within this time (slow clients are cut off)'),
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 1000, 600_000, 'request headers must arrive within this time'),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(65_000, 1000, 600_000, 'idle keep-alive connections close after this time (above load balancer idle timeouts)'),
  ROUTES_FILE: text('YAML or JSON file of routes (docs/scaling.md, "Several brands"); unset: the environment is one route at /webhooks/capillary'),

  // Accounting (issue 17)
  ACCOUNTING_INTERVAL_MS: int(900_000, 1000, 86_400_000, 'how often the accounting job compares Capillary, the relay and Adobe over the last 7 days'),
  ACCOUNTING_LAG_MINUTES: int(60, 0, 1440, "a window is judged on Adobe's side only once it is this old (Adobe's data-lake latency); 0 also judges the current window"),
};

// Closed: a misspelt setting in ROUTES_FILE is refused rather than silently ignored.
export const RouteSchema = Type.Object(ROUTE_SETTINGS, { additionalProperties: false });
export type RouteEnv = Static<typeof RouteSchema>;

/** Everything the environment may hold: the process settings and one route's. */
export const EnvSchema = Type.Object({ ...PROCESS_SETTINGS, ...ROUTE_SETTINGS });

export type Env = Static<typeof EnvSchema>;
