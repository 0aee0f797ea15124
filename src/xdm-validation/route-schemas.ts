import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { PLATFORM_PATHS, XED_FULL, type PlatformClient } from '../adobe/platform/platform-client.js';
import type { MessageKind } from '../mapping/types.js';
import type { Metrics } from '../metrics.js';
import { standardSchema } from './standard-schemas.js';
import { compileXdmSchema, type EntityCheck, type SchemaMismatch } from './xdm-compile.js';

/**
 * A route's schemas, as messages are held to them: the customer's own, read from the Schema Registry
 * (`xed-full+json; version=1`) at start, every AEP_SCHEMA_REFRESH_MS and on demand; or, while they
 * cannot be read (no permission, Platform down, no credentials), the standard ones the relay ships.
 * A schema read once stays in force when a later read fails: a Platform outage never loosens or
 * blocks delivery. Compiled once per version (a refresh that finds the same document compiles nothing).
 */
export type SchemaSource = 'customer' | 'standard';

export interface KindStatus {
  kind: MessageKind;
  schemaId: string;
  source: SchemaSource;
  /** Epoch ms of the last successful read of the customer's schema. */
  fetchedAt: number | null;
  /** Why the last read failed (Adobe's status and error_code), null after a success. */
  lastError: string | null;
  /** Rules of the customer's schema the relay cannot check (a pattern JavaScript cannot read...). */
  unchecked: string[];
}

export interface RouteSchemas {
  /** Resolves once the first read has been tried (at most one Platform timeout after start). */
  ready(): Promise<void>;
  check(kind: MessageKind, entity: unknown): (SchemaMismatch & { schemaId: string; source: SchemaSource }) | undefined;
  refresh(): Promise<KindStatus[]>;
  status(): KindStatus[];
  start(): void;
  close(): void;
}

export interface RouteSchemasDeps {
  route: string;
  /** The schema ids of the kinds the route sends (profile only when it has a profile dataset). */
  schemaIds: Partial<Record<MessageKind, string>>;
  /** undefined: the Platform APIs cannot be called (`unavailable` says why); the standard schemas hold. */
  client: PlatformClient | undefined;
  unavailable?: string;
  refreshMs: number;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

/** While a customer's schema has never been read, the next try comes sooner than the refresh: 5 s, doubling. */
const FIRST_READ_RETRY_MS = 5_000;

interface KindState extends KindStatus {
  check: EntityCheck;
  version: string | undefined;
}

export function createRouteSchemas(deps: RouteSchemasDeps): RouteSchemas {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const kinds = (Object.entries(deps.schemaIds) as Array<[MessageKind, string]>).map(([kind, schemaId]): KindState => ({
    kind,
    schemaId,
    source: 'standard',
    fetchedAt: null,
    lastError: deps.client ? null : (deps.unavailable ?? 'the Platform APIs cannot be called'),
    unchecked: [],
    check: standardSchema(kind).check,
    version: undefined,
  }));
  let timer: NodeJS.Timeout | undefined;
  /** Refreshes in a row that left a kind on the standard schema (paces the early retries). */
  let unread = 0;
  let inFlight: Promise<KindStatus[]> | undefined;
  let closed = false;
  let started = false;
  // Close cuts a read in flight: a slow Platform must not hold shutdown for its timeout.
  const closing = new AbortController();
  let firstRead: Promise<unknown> = Promise.resolve();

  const setGauge = (state: KindState) => deps.metrics.schemaSource.set({ route: deps.route, kind: state.kind }, state.source === 'customer' ? 1 : 0);
  for (const state of kinds) setGauge(state);

  async function readOne(state: KindState): Promise<void> {
    if (!deps.client) return;
    try {
      const document = await deps.client.get<Record<string, unknown>>(`${PLATFORM_PATHS.schemaRegistry}/tenant/schemas/${encodeURIComponent(state.schemaId)}`, { accept: XED_FULL, signal: closing.signal });
      const version = createHash('sha256').update(JSON.stringify(document)).digest('hex');
      if (version !== state.version) {
        const compiled = compileXdmSchema(document);
        state.check = compiled.check;
        state.unchecked = compiled.dropped;
        state.version = version;
        log.info({ kind: state.kind, schemaId: state.schemaId, unchecked: compiled.dropped.slice(0, 5) }, "customer's schema read and compiled");
      }
      if (state.source !== 'customer') log.info({ kind: state.kind }, "messages are held to the customer's schema");
      state.source = 'customer';
      state.fetchedAt = now();
      state.lastError = null;
    } catch (error) {
      if (closed) return;
      const e = error as { message?: string; code?: string; status?: number; errorCode?: string };
      state.lastError = e.message ?? 'unknown error';
      // A schema read before stays in force; without one the standard schema holds, and says so.
      const fallback = state.source === 'standard';
      log.warn(
        { kind: state.kind, schemaId: state.schemaId, code: e.code, status: e.status, errorCode: e.errorCode, keeping: fallback ? 'standard schema shipped with the relay' : "the customer's schema read before" },
        fallback ? "cannot read the customer's schema: messages are held to the standard XDM schema" : "cannot read the customer's schema again: keeping the one read before",
      );
    } finally {
      setGauge(state);
    }
  }

  function refresh(): Promise<KindStatus[]> {
    // One read at a time: a refresh asked for during one joins it.
    inFlight ??= Promise.all(kinds.map(readOne))
      .then(() => status())
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  function status(): KindStatus[] {
    return kinds.map(({ kind, schemaId, source, fetchedAt, lastError, unchecked }) => ({ kind, schemaId, source, fetchedAt, lastError, unchecked }));
  }

  function schedule(): void {
    if (closed || !deps.client) return;
    // A slow start (Platform slow, the process busy starting) must not leave the standard schemas in
    // force for a whole refresh period; a schema read once is refreshed at the normal pace.
    unread = kinds.some((k) => k.source === 'standard') ? unread + 1 : 0;
    const delay = unread > 0 ? Math.min(deps.refreshMs, FIRST_READ_RETRY_MS * 2 ** Math.min(unread - 1, 20)) : deps.refreshMs;
    timer = setTimeout(() => {
      void refresh().finally(schedule);
    }, delay);
  }

  return {
    ready: () => firstRead.then(() => undefined),
    check(kind, entity) {
      const state = kinds.find((k) => k.kind === kind);
      if (!state) return undefined;
      const mismatch = state.check(entity);
      return mismatch ? { ...mismatch, schemaId: state.schemaId, source: state.source } : undefined;
    },
    refresh,
    status,
    start() {
      if (closed || started) return;
      started = true;
      firstRead = refresh();
      void firstRead.finally(schedule);
    },
    close() {
      if (closed) return;
      closed = true;
      closing.abort();
      if (timer) clearTimeout(timer);
      timer = undefined;
      // A route removed or reopened by a reload leaves no stale series behind.
      for (const state of kinds) deps.metrics.schemaSource.remove({ route: deps.route, kind: state.kind });
    },
  };
}
