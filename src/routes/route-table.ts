import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createAepSink } from '../adobe/dcs-client.js';
import { createDispatcher } from '../adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../adobe/ims-token-provider.js';
import { createPayloadSink } from '../adobe/payload-sink.js';
import { routePlatform, type RoutePlatform } from '../adobe/platform/route-platform.js';
import type { Env } from '../config/env-schema.js';
import type { RouteConfig } from '../config/route-config.js';
import { routeOutput, type RouteOutput } from './route-output.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import type { RouteSchemas } from '../xdm-validation/route-schemas.js';
import { withSchemaValidation } from '../xdm-validation/route-validation.js';
import { createCircuitBreaker, type CircuitBreaker } from '../delivery/circuit-breaker.js';
import { createDeliveryWorker, type DeliveryWorker } from '../delivery/delivery-worker.js';
import { createDryRunSink } from '../delivery/dry-run-sink.js';
import { createRateLimiter, type RateLimiter } from '../delivery/rate-limiter.js';
import type { Sink } from '../delivery/types.js';

/** A route in service: its config, what it makes of events, where its messages go, and its own delivery. */
export interface LiveRoute {
  readonly config: RouteConfig;
  readonly output: RouteOutput;
  readonly sink: Sink;
  readonly worker: DeliveryWorker;
  /** Issue 16: the route's access to its AEP sandbox (setup check), and the schemas its messages are held to. */
  readonly platform: RoutePlatform;
  readonly schemas: RouteSchemas | undefined;
  /** The route's IMS token provider (shared by routes with the same credentials); undefined without credentials. */
  readonly tokens: TokenProvider | undefined;
}

export interface RouteChanges {
  added: string[];
  removed: string[];
  changed: string[];
  kept: string[];
}

export interface RouteTable {
  byId(id: string): LiveRoute | undefined;
  list(): LiveRoute[];
  start(): void;
  /**
   * Puts `configs` in force: unchanged routes keep running untouched; a changed route's delivery is
   * stopped and started again with its new settings; a removed route's delivery stops, and its queued
   * messages stay in the store, held, until a route of that id is back.
   */
  apply(configs: RouteConfig[]): Promise<RouteChanges>;
  close(): Promise<void>;
  /** All routes as one sink, for /readyz and the console. */
  readonly sink: Sink;
}

/** Two routes with the same credentials share one token provider (one token, one refresh). */
const credentialKey = (route: RouteConfig) => (route.credentials ? createHash('sha256').update(JSON.stringify(route.credentials)).digest('hex') : undefined);
/** Rate caps and the circuit breaker belong to an inlet: two routes sending to one inlet share them. */
const inletKey = (route: RouteConfig) =>
  route.adobe?.inletUrl ?? (route.source ? `${route.source.profile?.inletUrl ?? ''} ${route.source.transaction?.inletUrl ?? ''}` : `dry-run:${route.id}`);
const sameSettings = (a: RouteConfig, b: RouteConfig) => JSON.stringify(a.settings) === JSON.stringify(b.settings) && a.path === b.path;

export function createRouteTable(deps: { env: Env; store: Store; metrics: Metrics; logger: Logger; now?: () => number; testSink?: Sink }): RouteTable {
  const { env, metrics, logger } = deps;
  // The `route` label is bounded by the file; without one, series keep the labels they always had.
  const labelRoute = Boolean(env.ROUTES_FILE);
  const routeLabel = (route: RouteConfig) => (labelRoute ? { route: route.id } : {});
  const requestTimeoutMs = env.DELIVERY_REQUEST_TIMEOUT_MS;
  const dispatcher = createDispatcher({ headersTimeoutMs: requestTimeoutMs, bodyTimeoutMs: requestTimeoutMs });
  const tokens = new Map<string, { provider: TokenProvider; users: number }>();
  const inlets = new Map<string, { rateLimiter: RateLimiter; circuitBreaker: CircuitBreaker; users: number }>();
  const live = new Map<string, LiveRoute & { release(): Promise<void> }>();
  // Unique per process: a restarted process must not settle the leases of its previous life.
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  let started = false;

  const tokenProviderFor = (route: RouteConfig): { provider: TokenProvider | undefined; release(): Promise<void> } => {
    const key = credentialKey(route);
    if (!key || !route.credentials) return { provider: undefined, release: async () => undefined };
    let entry = tokens.get(key);
    if (!entry) {
      entry = { provider: createImsTokenProvider({ ...route.credentials, dispatcher, logger: logger.child({ component: 'ims', route: route.id }), metrics }), users: 0 };
      tokens.set(key, entry);
    }
    entry.users += 1;
    const held = entry;
    return {
      provider: held.provider,
      async release() {
        held.users -= 1;
        if (held.users === 0 && tokens.get(key) === held) {
          tokens.delete(key);
          await held.provider.close();
        }
      },
    };
  };

  const inletFor = (route: RouteConfig, log: Logger) => {
    const key = inletKey(route);
    let entry = inlets.get(key);
    if (!entry) {
      entry = {
        rateLimiter: createRateLimiter(route.rateCaps),
        circuitBreaker: createCircuitBreaker({
          windowMs: 60_000,
          minRequests: 10,
          failureRatio: 0.7,
          openMs: route.circuitOpenMs,
          onChange: (state, previous) => {
            // Deliveries stay paused while a probe is out (half-open): the gauge says paused until it closes.
            metrics.circuitState.set(routeLabel(route), state === 'closed' ? 0 : 1);
            // One warning when the outage starts; each probe (every CIRCUIT_OPEN_MS at most) and the
            // close at debug: the worker whose probe got through logs the recovery ("AEP answers again").
            if (state === 'open' && previous === 'closed') log.warn({ state, route: route.id, probeEveryMsAtMost: route.circuitOpenMs }, 'AEP is failing: circuit open, pausing deliveries; probing with one message');
            else log.debug({ state, route: route.id }, `circuit ${state}`);
          },
        }),
        users: 0,
      };
      inlets.set(key, entry);
    }
    entry.users += 1;
    const held = entry;
    return {
      ...held,
      release() {
        held.users -= 1;
        if (held.users === 0 && inlets.get(key) === held) inlets.delete(key);
      },
    };
  };

  const sinkFor = async (route: RouteConfig, provider: TokenProvider | undefined): Promise<Sink> => {
    if (deps.testSink) return deps.testSink;
    const log = logger.child({ component: 'adobe', route: route.id });
    if (route.output === 'xdm' && route.adobe) {
      return createAepSink({ inletUrl: route.adobe.inletUrl, ...(route.mapping.flowId ? { flowId: route.mapping.flowId } : {}), tokenProvider: provider, dispatcher, logger: log, metrics, ...(labelRoute ? { route: route.id } : {}), requestTimeoutMs });
    }
    const endpoints =
      route.output === 'raw' && route.adobe
        ? { event: { url: route.adobe.inletUrl, ...(route.mapping.flowId ? { flowId: route.mapping.flowId } : {}) } }
        : route.output === 'source' && route.source
          ? {
              ...(route.source.profile ? { profile: { url: route.source.profile.inletUrl, flowId: route.source.profile.flowId } } : {}),
              ...(route.source.transaction ? { event: { url: route.source.transaction.inletUrl, flowId: route.source.transaction.flowId } } : {}),
            }
          : undefined;
    if (endpoints) return createPayloadSink({ endpoints, tokenProvider: provider, dispatcher, logger: log, metrics, route: route.id, labelRoute, requestTimeoutMs });
    return createDryRunSink({ file: route.dryRunFile, logger: logger.child({ component: 'dry-run', route: route.id }) });
  };

  const open = async (route: RouteConfig) => {
    const log = logger.child({ component: 'delivery', route: route.id });
    const token = tokenProviderFor(route);
    const inlet = inletFor(route, log);
    // ---- issue 16: the customer's sandbox, and the schema check in front of the sink ----
    const platform = routePlatform({ route, tokens: token.provider, dispatcher, timeoutMs: requestTimeoutMs, logger: logger.child({ component: 'platform', route: route.id }) });
    const sent = await sinkFor(route, token.provider);
    const { sink, schemas } = sent === deps.testSink ? { sink: sent, schemas: undefined } : withSchemaValidation({ route, sink: sent, platform, refreshMs: env.AEP_SCHEMA_REFRESH_MS, metrics, logger });
    // ---- end issue 16 ----
    const worker = createDeliveryWorker({
      store: deps.store,
      sink,
      metrics,
      logger: log,
      rateLimiter: inlet.rateLimiter,
      circuitBreaker: inlet.circuitBreaker,
      options: {
        owner,
        route: route.id,
        ...(labelRoute ? { metricRoute: route.id } : {}),
        batchMaxMessages: env.DELIVERY_BATCH_MAX_MESSAGES,
        batchMaxBytes: env.DELIVERY_BATCH_MAX_BYTES,
        lingerMs: env.DELIVERY_LINGER_MS,
        concurrency: env.DELIVERY_CONCURRENCY,
        leaseMs: env.DELIVERY_LEASE_MS,
        pollIntervalMs: env.DELIVERY_POLL_INTERVAL_MS,
        retry: { baseMs: env.DELIVERY_RETRY_BASE_MS, maxMs: env.DELIVERY_RETRY_MAX_MS },
        maxAgeMs: env.DELIVERY_MAX_AGE_HOURS * 3_600_000,
      },
      ...(deps.now ? { now: deps.now } : {}),
    });
    const entry = {
      config: route,
      output: routeOutput(route),
      sink,
      worker,
      platform,
      schemas,
      tokens: token.provider,
      async release() {
        await worker.stop(env.SHUTDOWN_GRACE_MS);
        if (sink !== deps.testSink) await sink.close();
        await token.release();
        inlet.release();
      },
    };
    live.set(route.id, entry);
    // A series at 0 from the start: the held-events alert's increase() then sees the first held event.
    metrics.eventsHeld.inc({ route: route.id }, 0);
    if (started) worker.start();
  };

  const list = () => [...live.values()];

  const sink: Sink = {
    get name() {
      return list().some((r) => r.sink.name === 'aep') ? 'aep' : 'dry-run';
    },
    send: () => Promise.reject(new Error('the route table sends through each route')),
    // One route failing must not take every brand out of the load balancer: not ready only when none can deliver.
    async readiness() {
      const results = await Promise.all(list().map(async (r) => ({ id: r.config.id, result: await r.sink.readiness() })));
      const failing = results.filter((r) => !r.result.ok);
      if (failing.length === 0 || failing.length < results.length) return { ok: true };
      return { ok: false, reason: failing.map((r) => (r.result.ok ? '' : results.length === 1 ? r.result.reason : `${r.id}: ${r.result.reason}`)).join('; ') };
    },
    // The first route that uses IMS; none (dry-run, unauthenticated inlets): the console says "not used".
    tokenStatus() {
      return list().find((r) => r.sink.tokenStatus)?.sink.tokenStatus?.();
    },
    async close() {},
  };

  return {
    sink,
    byId: (id) => live.get(id),
    list,
    start() {
      started = true;
      for (const route of live.values()) route.worker.start();
    },
    async apply(configs) {
      const next = new Map(configs.map((c) => [c.id, c]));
      const changes: RouteChanges = { added: [], removed: [], changed: [], kept: [] };
      for (const [id, current] of live) {
        const wanted = next.get(id);
        if (!wanted) changes.removed.push(id);
        else if (!sameSettings(current.config, wanted)) changes.changed.push(id);
        else changes.kept.push(id);
      }
      for (const id of next.keys()) if (!live.has(id)) changes.added.push(id);
      for (const id of [...changes.removed, ...changes.changed]) {
        const old = live.get(id)!;
        live.delete(id);
        await old.release();
      }
      for (const id of [...changes.changed, ...changes.added]) await open(next.get(id)!);
      return changes;
    },
    async close() {
      started = false;
      // Routes stop together, each within the grace period.
      await Promise.all(list().map((r) => r.release()));
      live.clear();
      await dispatcher.close();
    },
  };
}
