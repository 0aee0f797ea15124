/**
 * A local stand-in for Capillary's APIs (not its webhooks): a real HTTP server on 127.0.0.1:0 with
 * the OAuth token endpoint, and the delivery counts and delivery log of a webhook's consumer group,
 * computed from the deliveries a test lists. Shapes: /work/shared/reference/capillary-apis.md; the
 * log's answer is unconfirmed there, and this fake serves the shape src/capillary/capillary-answers.ts
 * assumes (`{"data":{"logs":[...],"page","size","totalElements"}}`). Faults per path as the other fakes.
 */
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { PathFaults, ServerHarness, isTransportFault, headerOne, readBody, sendJson, type FaultOptions } from './fake-server.js';

export type DeliveryStatus = 'DELIVERED' | 'FAILED' | 'RETRYING' | 'PENDING';

/** One event of the webhook as Capillary's delivery log knows it. */
export interface FakeDelivery {
  eventId: string;
  eventName: string;
  status: DeliveryStatus;
  /** Epoch ms. */
  eventTime: number;
  apiRequestId?: string;
  httpStatus?: number;
}

export type FakeCapillaryFault = { kind: 'status'; status: number; body?: unknown } | { kind: 'slow'; delayMs: number } | { kind: 'hold' } | { kind: 'reset' };

export interface CapillaryRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  token: string | undefined;
  outcome: number | 'reset' | 'held';
}

export interface FakeCapillary {
  readonly origin: string;
  readonly key: string;
  readonly secret: string;
  readonly consumerGroupId: string;
  readonly events: EventEmitter;
  readonly requests: CapillaryRequestRecord[];
  readonly deliveries: FakeDelivery[];
  readonly issuedTokens: string[];
  readonly mints: number;
  /** ttlSeconds of the tokens issued from now on. */
  setTtlSeconds(seconds: number): void;
  /** Every token issued so far is refused from now on (401), as an expired one. */
  expireTokens(): void;
  setFault(match: string | RegExp, fault: FakeCapillaryFault | null, options?: FaultOptions): void;
  clearFaults(): void;
  release(): void;
  waitFor(predicate: (capillary: FakeCapillary) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface FakeCapillaryOptions {
  key?: string;
  secret?: string;
  consumerGroupId?: string;
  /** The header the API reads the token from (lower case). Default `x-cap-api-oauth-token`. */
  tokenHeader?: string;
  ttlSeconds?: number;
}

const BASE = '/v3/events/consumer-groups/';
const errors = (status: number, code: number, message: string) => ({ status, body: { errors: [{ code, message }], warnings: [] } });

export async function startFakeCapillary(options: FakeCapillaryOptions = {}): Promise<FakeCapillary> {
  const key = options.key ?? 'capillary-test-key';
  const secret = options.secret ?? 'capillary-test-secret-DO-NOT-LOG';
  const consumerGroupId = options.consumerGroupId ?? 'cg-relay-1';
  const tokenHeader = options.tokenHeader ?? 'x-cap-api-oauth-token';
  let ttlSeconds = options.ttlSeconds ?? 300;
  const valid = new Set<string>();
  const issuedTokens: string[] = [];
  const requests: CapillaryRequestRecord[] = [];
  const deliveries: FakeDelivery[] = [];
  const faults = new PathFaults<FakeCapillaryFault>();
  let mints = 0;

  const inRange = (q: URLSearchParams) => {
    // Unconfirmed: whether endDate is inclusive; exclusive picked, as the relay's windows are.
    const start = Number(q.get('startDate') ?? 0);
    const end = Number(q.get('endDate') ?? Number.MAX_SAFE_INTEGER);
    return deliveries.filter((d) => d.eventTime >= start && d.eventTime < end);
  };

  function answer(method: string, url: URL, body: unknown, token: string | undefined): { status: number; body: unknown } {
    if (method === 'POST' && url.pathname === '/v3/oauth/token/generate') {
      const b = body as { key?: unknown; secret?: unknown } | undefined;
      if (b?.key !== key || b?.secret !== secret) return errors(401, 401, 'Invalid key or secret');
      const accessToken = `cap.${randomBytes(18).toString('base64url')}`;
      valid.add(accessToken);
      issuedTokens.push(accessToken);
      mints += 1;
      return { status: 200, body: { data: { accessToken, ttlSeconds }, errors: [], warnings: [] } };
    }
    if (token === undefined || !valid.has(token)) return errors(401, 401, 'Invalid or expired token');
    if (method !== 'GET' || !url.pathname.startsWith(BASE)) return errors(404, 404, `No route ${method} ${url.pathname}`);
    const [group, what] = url.pathname.slice(BASE.length).split('/');
    if (decodeURIComponent(group ?? '') !== consumerGroupId) return errors(404, 404, 'Consumer group not found');
    const selected = inRange(url.searchParams);
    if (what === 'metrics') {
      const count = (status: DeliveryStatus) => selected.filter((d) => d.status === status).length;
      return {
        status: 200,
        body: {
          data: {
            totalEvents: selected.length,
            deliveredEvents: count('DELIVERED'),
            failedEvents: count('FAILED'),
            retryingEvents: count('RETRYING'),
            pendingEvents: count('PENDING'),
            averageDeliveryTime: 120,
            startDate: Number(url.searchParams.get('startDate')),
            endDate: Number(url.searchParams.get('endDate')),
          },
          errors: [],
          warnings: [],
        },
      };
    }
    if (what === 'logs') {
      const status = url.searchParams.get('status');
      const page = Number(url.searchParams.get('page') ?? 0);
      const size = Number(url.searchParams.get('size') ?? 20);
      const matching = selected.filter((d) => !status || d.status === status.toUpperCase());
      const logs = matching.slice(page * size, page * size + size).map((d) => ({
        eventId: d.eventId,
        eventType: `100737_${d.eventName}`,
        status: d.status,
        eventTime: d.eventTime,
        apiRequestId: d.apiRequestId ?? `req-${d.eventId}`,
        httpStatus: d.httpStatus ?? (d.status === 'DELIVERED' ? 202 : 400),
      }));
      return { status: 200, body: { data: { logs, page, size, totalElements: matching.length }, errors: [], warnings: [] } };
    }
    return errors(404, 404, `No route ${method} ${url.pathname}`);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-capillary');
    const { text } = await readBody(req, 1_000_000);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const sent = headerOne(req.headers[tokenHeader]);
    // On Authorization the token comes as a Bearer (one of the forms Capillary's pages show).
    const token = tokenHeader === 'authorization' && sent?.startsWith('Bearer ') ? sent.slice(7) : sent;
    const record: CapillaryRequestRecord = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), token, outcome: 0 };
    requests.push(record);
    const done = (outcome: CapillaryRequestRecord['outcome']) => {
      record.outcome = outcome;
      harness.changed('request', record);
    };
    const reply = (r: { status: number; body: unknown }) => {
      sendJson(res, r.status, r.body);
      done(r.status);
    };
    const normal = () => reply(answer(record.method, url, body, token));
    const f = faults.take(url.pathname);
    if (!f) return normal();
    if (isTransportFault(f)) return harness.playTransportFault(f, res, normal, done);
    switch (f.kind) {
      case 'status':
        return reply({ status: f.status, body: f.body ?? errors(f.status, f.status, http.STATUS_CODES[f.status] ?? 'Error').body });
    }
  }

  const harness = new ServerHarness((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 500, message: String(error) }] });
      else res.socket?.destroy();
    });
  });
  await harness.listen();

  const capillary: FakeCapillary = {
    origin: `http://127.0.0.1:${harness.port}`,
    key,
    secret,
    consumerGroupId,
    events: harness.events,
    requests,
    deliveries,
    issuedTokens,
    get mints() {
      return mints;
    },
    setTtlSeconds(seconds) {
      ttlSeconds = seconds;
    },
    expireTokens() {
      valid.clear();
    },
    setFault: (match, fault, o) => faults.set(match, fault, o),
    clearFaults: () => faults.clear(),
    release() {
      harness.releaseAll();
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(capillary), timeoutMs, 'Capillary');
    },
    close: () => harness.close(),
  };
  return capillary;
}
