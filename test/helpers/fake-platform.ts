/**
 * A local stand-in for the Adobe Experience Platform APIs on platform.adobe.io: a real HTTP server on
 * 127.0.0.1:0 answering the shapes of Adobe's specs (test/fixtures/adobe-api-specs; a test holds the
 * answers to them) for sandboxes, the Schema Registry, Catalog datasets and batches, failed records,
 * identity namespaces, Flow Service connections and Observability metrics. It checks the headers as
 * Adobe's gateway does, records every request, and takes faults per path (403 with an `error_code`,
 * 404, 406, 5xx, slow, held, reset). Where no source showed Adobe's answer, the shape picked is
 * marked "unconfirmed". Reference: /work/shared/reference/adobe-platform-apis.md.
 */
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { FakeIms } from './fake-ims.js';
import { emptySandbox, type FakeSandbox } from './fake-platform-state.js';
import { answerRoute, type Reply } from './fake-platform-routes.js';
import { PathFaults, ServerHarness, isTransportFault, headerOne, readBody, sendJson, type FaultOptions } from './fake-server.js';

export * from './fake-platform-state.js';

export type FakePlatformFault =
  /** Any status; `errorCode` gives the gateway's `{"error_code","message"}` body, `body` any other. */
  | { kind: 'status'; status: number; errorCode?: string; message?: string; body?: unknown }
  /** Answer normally after a delay. */
  | { kind: 'slow'; delayMs: number }
  /** Do not answer until `release()` (or close). */
  | { kind: 'hold' }
  /** Destroy the socket without answering. */
  | { kind: 'reset' };

export interface PlatformRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The x-sandbox-name header as sent (undefined when absent). */
  sandbox: string | undefined;
  accept: string | undefined;
  contentType: string | undefined;
  apiKey: string | undefined;
  orgId: string | undefined;
  token: string | undefined;
  body: unknown;
  /** HTTP status answered, or 'reset' / 'held'. */
  outcome: number | 'reset' | 'held';
}

export interface FakePlatformOptions {
  /** Tokens must be ones this IMS issued and still valid (else 401013); without it any bearer passes. */
  ims?: FakeIms;
  /** The x-api-key expected (the credential's client id). Default: the linked IMS's client id, else any. */
  apiKey?: string;
  /** The x-gw-ims-org-id expected. Default: any. */
  orgId?: string;
  /** Sandboxes by name. Default: an empty `prod`. */
  sandboxes?: FakeSandbox[];
}

export interface FakePlatform {
  readonly origin: string;
  readonly events: EventEmitter;
  readonly requests: PlatformRequestRecord[];
  /** The sandbox state of that name (default `prod`), live: change it and the next answer follows. */
  sandbox(name?: string): FakeSandbox;
  addSandbox(sandbox: FakeSandbox): void;
  /** A fault for requests whose path (no query) contains `match` or matches it; null clears it. */
  setFault(match: string | RegExp, fault: FakePlatformFault | null, options?: FaultOptions): void;
  clearFaults(): void;
  release(): void;
  /** Stop listening (connection refused) until restore(). */
  outage(): Promise<void>;
  restore(): Promise<void>;
  waitFor(predicate: (platform: FakePlatform) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The gateway's own errors, as the shared notes list them. */
const gateway = (status: number, errorCode: string, message: string): Reply => ({ status, body: { error_code: errorCode, message } });

export async function startFakePlatform(options: FakePlatformOptions = {}): Promise<FakePlatform> {
  const sandboxes = new Map<string, FakeSandbox>((options.sandboxes ?? [emptySandbox()]).map((s) => [s.name, s]));
  const faults = new PathFaults<FakePlatformFault>();
  const requests: PlatformRequestRecord[] = [];
  const apiKey = options.apiKey ?? options.ims?.clientId;

  /** Adobe's gateway checks, in its order; undefined when the call may proceed. */
  function gatewayCheck(record: PlatformRequestRecord): Reply | undefined {
    if (record.token === undefined) return gateway(403, '403010', 'Oauth token is missing.');
    if (options.ims && options.ims.tokenState(record.token) !== 'valid') return gateway(401, '401013', 'Oauth token is not valid');
    if (!record.apiKey) return gateway(403, '403000', 'Api Key is required');
    if (apiKey !== undefined && record.apiKey !== apiKey) return gateway(403, '403003', 'Api Key is invalid');
    if (!record.orgId) return gateway(400, '400003', 'Missing header: x-gw-ims-org-id');
    // Unconfirmed: what the gateway says for an org the credential does not belong to; 403025 picked.
    if (options.orgId !== undefined && record.orgId !== options.orgId) return gateway(403, '403025', 'Profile is not valid');
    return undefined;
  }

  function sandboxOf(record: PlatformRequestRecord): FakeSandbox | Reply {
    // Without the header Adobe uses the default sandbox; an unknown name's answer is unconfirmed (403 picked).
    const name = record.sandbox;
    const found = name === undefined ? [...sandboxes.values()].find((s) => s.isDefault) : sandboxes.get(name);
    if (!found || (name !== undefined && name !== name.toLowerCase())) {
      return { status: 403, body: { type: 'http://ns.adobe.com/aep/errors/sandbox-403', title: 'Forbidden', status: 403, detail: `Sandbox ${String(name)} is not accessible` } };
    }
    return found;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-platform');
    const { text } = await readBody(req, 1_000_000);
    const auth = headerOne(req.headers.authorization);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const record: PlatformRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      sandbox: headerOne(req.headers['x-sandbox-name']),
      accept: headerOne(req.headers.accept),
      contentType: headerOne(req.headers['content-type']),
      apiKey: headerOne(req.headers['x-api-key']),
      orgId: headerOne(req.headers['x-gw-ims-org-id']),
      token: auth?.startsWith('Bearer ') ? auth.slice(7) : undefined,
      body,
      outcome: 0,
    };
    requests.push(record);
    const done = (outcome: PlatformRequestRecord['outcome']) => {
      record.outcome = outcome;
      harness.changed('request', record);
    };
    const reply = (r: Reply) => {
      const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': randomUUID() });
      res.end(text);
      done(r.status);
    };

    const answer = () => {
      const refused = gatewayCheck(record);
      if (refused) return reply(refused);
      if (/^\/data\/foundation\/sandbox-management\/?$/.test(url.pathname)) {
        const listed = [...sandboxes.values()].filter((s) => s.listed);
        const items = listed.map((s) => ({ name: s.name, title: s.title, state: 'active', type: s.type, region: s.region, isDefault: s.isDefault }));
        return reply({ status: 200, body: { sandboxes: items, _page: { limit: 50, count: items.length } } });
      }
      const sandbox = sandboxOf(record);
      if ('status' in sandbox && typeof sandbox.status === 'number') return reply(sandbox as Reply);
      if (record.method === 'POST' && !/^application\/json\b/i.test(record.contentType ?? '')) {
        return reply({ status: 415, body: { type: 'http://ns.adobe.com/aep/errors/415', title: 'Unsupported Media Type', status: 415 } });
      }
      reply(answerRoute(sandbox as FakeSandbox, record, url));
    };

    const f = faults.take(url.pathname);
    if (!f) return answer();
    if (isTransportFault(f)) return harness.playTransportFault(f, res, answer, done);
    switch (f.kind) {
      case 'status':
        if (f.body !== undefined) return reply({ status: f.status, body: f.body });
        return reply(gateway(f.status, f.errorCode ?? String(f.status), f.message ?? http.STATUS_CODES[f.status] ?? 'Error'));
    }
  }

  const harness = new ServerHarness((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { title: 'fake platform failed', detail: String(error) });
      else res.socket?.destroy();
    });
  });
  await harness.listen();
  const port = harness.port;

  const platform: FakePlatform = {
    origin: `http://127.0.0.1:${port}`,
    events: harness.events,
    requests,
    sandbox(name = 'prod') {
      const found = sandboxes.get(name);
      if (!found) throw new Error(`fake platform: no sandbox ${name}`);
      return found;
    },
    addSandbox(sandbox) {
      sandboxes.set(sandbox.name, sandbox);
    },
    setFault: (match, fault, o) => faults.set(match, fault, o),
    clearFaults: () => faults.clear(),
    release() {
      harness.releaseAll();
    },
    outage: () => harness.outage(),
    restore: () => harness.restore(),
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(platform), timeoutMs, 'Platform');
    },
    close: () => harness.close(),
  };
  return platform;
}
