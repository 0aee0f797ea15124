/**
 * Local stand-ins for Adobe IMS and AEP streaming ingestion (DCS): real HTTP servers on 127.0.0.1:0,
 * no mocks, behaving as /work/shared/reference/adobe-streaming-and-ims.md describes (quirks included).
 * Used by unit, integration and fault-injection tests and by the benchmark, so the hot path stays cheap.
 * Tests wait on `waitFor(predicate)` (re-checked on every state change), never on sleeps.
 */
import http from 'node:http';
import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

// ---------------------------------------------------------------- shared plumbing

interface Held {
  release(): void;
  destroy(): void;
}

class ServerHarness {
  readonly events = new EventEmitter();
  readonly server: http.Server;
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly held = new Set<Held>();
  private closed = false;

  constructor(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
    this.events.setMaxListeners(0);
    this.server = http.createServer(handler);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stop listening and cut every connection: clients now get ECONNREFUSED. */
  async stop(): Promise<void> {
    for (const h of this.held) h.destroy();
    this.held.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  hold(release: () => void, res: http.ServerResponse): void {
    const h: Held = {
      release: () => {
        this.held.delete(h);
        release();
      },
      destroy: () => {
        this.held.delete(h);
        res.socket?.destroy();
      },
    };
    this.held.add(h);
  }

  releaseAll(): void {
    for (const h of [...this.held]) h.release();
  }

  changed(event: string, payload?: unknown): void {
    this.events.emit(event, payload);
    this.events.emit('change');
  }

  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      // A safety net so a broken test fails with a message instead of hanging: not a synchronizer.
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake ${what}: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('change', check);
      };
      this.events.on('change', check);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    this.events.removeAllListeners();
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<{ text: string; bytes: number; overLimit: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      // Keep draining past the limit (answering before the body is read makes clients see resets).
      if (bytes <= limit) chunks.push(c);
    });
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), bytes, overLimit: bytes > limit }));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': headers['content-type'] ?? 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

interface FaultSlot<F> {
  fault: F;
  remaining: number;
  probability: number;
}

function takeFault<F>(slot: FaultSlot<F> | undefined, random: () => number): { fault?: F; exhausted: boolean } {
  if (!slot) return { exhausted: false };
  if (slot.probability < 1 && random() >= slot.probability) return { exhausted: false };
  slot.remaining -= 1;
  return { fault: slot.fault, exhausted: slot.remaining <= 0 };
}

export interface FaultOptions {
  /** Apply to the next N requests only, then clear. Default: until cleared. */
  times?: number;
  /** Apply to each request with this probability (0..1). Default 1. */
  probability?: number;
}

function slotOf<F>(fault: F | null, options: FaultOptions): FaultSlot<F> | undefined {
  return fault === null ? undefined : { fault, remaining: options.times ?? Infinity, probability: options.probability ?? 1 };
}

// ---------------------------------------------------------------- IMS

export type FakeImsFailure =
  /** 400 {"error":"invalid_client","error_description":"invalid client_secret parameter"} */
  | { kind: 'invalid_client' }
  /** 400 {"error":"invalid_scope"} */
  | { kind: 'invalid_scope' }
  /** Any status (500, 502, 503, 429...) with an IMS-style error body. */
  | { kind: 'status'; status: number }
  /** Read the request, then destroy the socket without answering. */
  | { kind: 'reset' }
  /** Answer normally after a delay. */
  | { kind: 'slow'; delayMs: number }
  /** Do not answer until `release()` (or close): lets a test observe an in-flight request. */
  | { kind: 'hold' };

export interface FakeImsOptions {
  clientId?: string;
  clientSecret?: string;
  /** Token lifetime; default 86_399_000 ms (IMS v3 says `expires_in: 86399`). */
  lifetimeMs?: number;
  /** Access tokens as (unsigned) JWTs carrying created_at / expires_in claims, like IMS. Default true. */
  jwt?: boolean;
  /** JWT claim types: IMS sends strings ("86400000"). Default 'string'. */
  claimTypes?: 'string' | 'number';
  /** Override the `expires_in` field (raw, may be nonsense or undefined) given the path asked. */
  expiresIn?: (path: string, lifetimeMs: number) => unknown;
  /** Override the JWT claims' lifetime (e.g. claims that disagree with expires_in). */
  jwtLifetimeMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface ImsRequestRecord {
  path: string;
  clientIdOk: boolean;
  clientSecretOk: boolean;
  grantType: string | null;
  scope: string | null;
  contentType: string | undefined;
  /** HTTP status answered, or 'reset' / 'held'. */
  outcome: number | 'reset' | 'held';
  debugId: string;
}

export interface FakeIms {
  readonly origin: string;
  readonly port: number;
  /** Token endpoints: v3 and v2 answer `expires_in` in seconds, v1 and unversioned in milliseconds. */
  readonly urls: { v3: string; v2: string; v1: string; unversioned: string };
  readonly clientId: string;
  readonly clientSecret: string;
  readonly events: EventEmitter;
  /** Successful token issuances. */
  readonly mints: number;
  readonly requests: ImsRequestRecord[];
  readonly issuedTokens: string[];
  setFailure(failure: FakeImsFailure | null, options?: FaultOptions): void;
  setLifetime(ms: number): void;
  /** 'valid' | 'expired' (issued here, past its life or expired by `expireTokens`) | 'unknown'. */
  tokenState(token: string | undefined): 'valid' | 'expired' | 'unknown';
  /** Every token issued so far is now expired (DCS answers 403). */
  expireTokens(): void;
  /** Every token issued so far is forgotten (DCS answers 401, as for a token from elsewhere). */
  revokeTokens(): void;
  /** Answer requests held by a 'hold' failure. */
  release(): void;
  waitFor(predicate: (ims: FakeIms) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const IMS_PATHS: Record<string, 'seconds' | 'milliseconds'> = {
  '/ims/token/v3': 'seconds',
  '/ims/token/v2': 'seconds',
  '/ims/token/v1': 'milliseconds',
  '/ims/token': 'milliseconds',
};

export async function startFakeIms(options: FakeImsOptions = {}): Promise<FakeIms> {
  const clientId = options.clientId ?? 'test-client-id';
  const clientSecret = options.clientSecret ?? 'test-client-secret-DO-NOT-LOG';
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  let lifetimeMs = options.lifetimeMs ?? 86_399_000;
  let failure: FaultSlot<FakeImsFailure> | undefined;
  let mints = 0;
  const requests: ImsRequestRecord[] = [];
  const issued = new Map<string, { expiresAt: number }>();
  const issuedTokens: string[] = [];

  function issue(path: string): Record<string, unknown> {
    const unit = IMS_PATHS[path] ?? 'seconds';
    const createdAt = now();
    const claimLife = options.jwtLifetimeMs ?? lifetimeMs;
    const claim = (n: number) => (options.claimTypes === 'number' ? n : String(n));
    const token =
      options.jwt === false
        ? `opaque-${randomBytes(24).toString('hex')}`
        : [
            Buffer.from(JSON.stringify({ alg: 'RS256', x5u: 'ims_na1-key-at-1.cer', kid: 'ims_na1-key-at-1', itt: 'at' })).toString('base64url'),
            Buffer.from(
              JSON.stringify({
                id: randomUUID(),
                type: 'access_token',
                client_id: clientId,
                as: 'ims-na1',
                created_at: claim(createdAt),
                expires_in: claim(claimLife),
                scope: 'openid,AdobeID',
              }),
            ).toString('base64url'),
            randomBytes(32).toString('base64url'),
          ].join('.');
    issued.set(token, { expiresAt: createdAt + lifetimeMs });
    issuedTokens.push(token);
    mints += 1;
    const expiresIn = options.expiresIn
      ? options.expiresIn(path, lifetimeMs)
      : unit === 'seconds'
        ? Math.max(1, Math.round(lifetimeMs / 1000))
        : lifetimeMs;
    const body: Record<string, unknown> = { access_token: token, token_type: 'bearer' };
    if (expiresIn !== undefined) body.expires_in = expiresIn;
    return body;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const debugId = randomUUID();
    res.setHeader('x-debug-id', debugId);
    const { text } = await readBody(req, 64 * 1024);
    const form = new URLSearchParams(text);
    const record: ImsRequestRecord = {
      path,
      clientIdOk: form.get('client_id') === clientId,
      clientSecretOk: form.get('client_secret') === clientSecret,
      grantType: form.get('grant_type'),
      scope: form.get('scope'),
      contentType: req.headers['content-type'],
      outcome: 0,
      debugId,
    };
    requests.push(record);
    const done = (outcome: ImsRequestRecord['outcome']) => {
      record.outcome = outcome;
      harness.changed('response', record);
    };

    if (req.method !== 'POST' || !(path in IMS_PATHS)) {
      sendJson(res, 404, { error: 'not_found' });
      return done(404);
    }
    const taken = takeFault(failure, random);
    if (taken.exhausted) failure = undefined;
    const answer = () => {
      if (!record.clientIdOk) {
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_id parameter' });
        return done(400);
      }
      if (!record.clientSecretOk) {
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_secret parameter' });
        return done(400);
      }
      if (record.grantType !== 'client_credentials') {
        sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'unsupported grant_type' });
        return done(400);
      }
      const body = issue(path);
      sendJson(res, 200, body);
      harness.changed('mint', { path });
      done(200);
    };
    const f = taken.fault;
    if (!f) return answer();
    switch (f.kind) {
      case 'invalid_client':
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_secret parameter' });
        return done(400);
      case 'invalid_scope':
        sendJson(res, 400, { error: 'invalid_scope', error_description: 'invalid scope' });
        return done(400);
      case 'status':
        sendJson(res, f.status, { error: 'server_error', error_description: 'temporarily unavailable' });
        return done(f.status);
      case 'reset':
        res.socket?.destroy();
        return done('reset');
      case 'slow':
        return harness.later(f.delayMs, answer);
      case 'hold':
        harness.hold(answer, res);
        return done('held');
    }
  }

  const harness = new ServerHarness((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  await harness.listen();
  const origin = `http://127.0.0.1:${harness.port}`;

  const ims: FakeIms = {
    origin,
    port: harness.port,
    urls: {
      v3: `${origin}/ims/token/v3`,
      v2: `${origin}/ims/token/v2`,
      v1: `${origin}/ims/token/v1`,
      unversioned: `${origin}/ims/token`,
    },
    clientId,
    clientSecret,
    events: harness.events,
    get mints() {
      return mints;
    },
    requests,
    issuedTokens,
    setFailure(f, o = {}) {
      failure = slotOf(f, o);
    },
    setLifetime(ms) {
      lifetimeMs = ms;
    },
    tokenState(token) {
      const t = token === undefined ? undefined : issued.get(token);
      if (!t) return 'unknown';
      return now() < t.expiresAt ? 'valid' : 'expired';
    },
    expireTokens() {
      for (const t of issued.values()) t.expiresAt = Math.min(t.expiresAt, now() - 1);
    },
    revokeTokens() {
      issued.clear();
    },
    release() {
      harness.releaseAll();
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(ims), timeoutMs, 'IMS');
    },
    close: () => harness.close(),
  };
  return ims;
}

// ---------------------------------------------------------------- DCS

export type FakeDcsFault =
  /** Whole-request status (429, 500, 502, 503, 504, 404...), optionally with Retry-After. */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  /** Read the request, then destroy the socket without answering (connection reset mid-request). */
  | { kind: 'reset' }
  /** Answer normally after a delay. */
  | { kind: 'slow'; delayMs: number }
  /** Do not answer until `release()` (or close). */
  | { kind: 'hold' }
  /** 207 where every Nth message (counted across requests) gets `status` (default 503) and is not ingested. */
  | { kind: 'partial'; everyNth: number; status?: number }
  /** 207 with only the first `keep` entries of `responses[]` (the rest are ingested but unanswered). */
  | { kind: 'drop-entries'; keep: number };

/** Why a message is invalid (becomes the entry's `message`), or null when it is fine. */
export type MessageValidator = (message: unknown) => string | null;

/**
 * The default check, as on a real time-series schema: an ExperienceEvent (it has a `timestamp`) must
 * carry body.xdmEntity._id. A profile record (no timestamp) needs none: the Profile class does not
 * require `_id`, and the mapper leaves it out.
 */
export const requireXdmId: MessageValidator = (m) => {
  const entity = (m as { body?: { xdmEntity?: Record<string, unknown> } } | null)?.body?.xdmEntity;
  const isEvent = entity !== undefined && 'timestamp' in entity;
  return isEvent && idOf(m) === undefined ? 'Missing required field: body.xdmEntity._id' : null;
};

export interface FakeDcsOptions {
  /** Linked IMS: Authorization must carry a token it issued (401 unknown/missing, 403 expired). Without it the inlet is unauthenticated. */
  ims?: FakeIms;
  /** Request body limit: 413 above it. Default 1,000,000 (Adobe says 1 MB; the strict reading). */
  maxBodyBytes?: number;
  validate?: MessageValidator;
  /** 'entry' (default): invalid messages get an error entry in the 207; 'request': the whole request is a 400 problem+json. */
  invalidAs?: 'entry' | 'request';
  /** Field naming the status in error entries: 'statusCode' (default) or 'status' (as in some Adobe fixtures). */
  errorStatusField?: 'statusCode' | 'status';
  /** Error entry statuses as strings ("400") instead of numbers. */
  errorStatusAsString?: boolean;
  /** Keep each accepted message's parsed JSON in `accepted` (default true; the benchmark turns it off). */
  recordMessages?: boolean;
  random?: () => number;
}

export interface AcceptedMessage {
  id: string | undefined;
  inletId: string;
  xactionId: string;
  message?: unknown;
}

export interface DcsRequestRecord {
  path: string;
  inletId: string;
  batch: boolean;
  /** HTTP status answered, or 'reset' / 'held'. */
  outcome: number | 'reset' | 'held';
  messages: number;
  bytes: number;
  auth: 'none' | 'valid' | 'invalid' | 'expired';
  token: string | undefined;
  flowId: string | undefined;
  contentType: string | undefined;
}

export interface FakeDcs {
  readonly origin: string;
  readonly port: number;
  readonly events: EventEmitter;
  inletUrl(inletId?: string): string;
  batchUrl(inletId?: string): string;
  readonly accepted: AcceptedMessage[];
  readonly requests: DcsRequestRecord[];
  readonly counters: {
    requests: number;
    accepted: number;
    rejected: number;
    authFailures: number;
    resets: number;
    byStatus: Record<string, number>;
  };
  /** How many times each `_id` was accepted (duplicates show as > 1). */
  readonly idCounts: Map<string, number>;
  setFault(fault: FakeDcsFault | null, options?: FaultOptions): void;
  setValidator(validate: MessageValidator, invalidAs?: 'entry' | 'request'): void;
  setErrorStatusField(field: 'statusCode' | 'status', asString?: boolean): void;
  release(): void;
  /** Stop listening and cut connections: clients get ECONNREFUSED until `restore()`. */
  outage(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
  waitFor(predicate: (dcs: FakeDcs) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function idOf(message: unknown): string | undefined {
  const body = (message as { body?: { xdmEntity?: { _id?: unknown } } } | null)?.body;
  const id = body?.xdmEntity?._id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

const problem = (status: number, title: string, report?: unknown) => ({
  type: `https://ns.adobe.com/aep/errors/EXEG-0${status}`,
  status,
  title,
  ...(report === undefined ? {} : { report }),
});

export async function startFakeDcs(options: FakeDcsOptions = {}): Promise<FakeDcs> {
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const random = options.random ?? Math.random;
  const recordMessages = options.recordMessages ?? true;
  let validate = options.validate ?? requireXdmId;
  let invalidAs = options.invalidAs ?? 'entry';
  let statusField = options.errorStatusField ?? 'statusCode';
  let statusAsString = options.errorStatusAsString ?? false;
  let fault: FaultSlot<FakeDcsFault> | undefined;
  let messageCounter = 0;
  const accepted: AcceptedMessage[] = [];
  const requests: DcsRequestRecord[] = [];
  const idCounts = new Map<string, number>();
  const counters = { requests: 0, accepted: 0, rejected: 0, authFailures: 0, resets: 0, byStatus: {} as Record<string, number> };

  function accept(message: unknown, inletId: string): string {
    const xactionId = `${randomUUID()}-${inletId}`;
    const id = idOf(message);
    if (id !== undefined) idCounts.set(id, (idCounts.get(id) ?? 0) + 1);
    accepted.push(recordMessages ? { id, inletId, xactionId, message } : { id, inletId, xactionId });
    counters.accepted += 1;
    return xactionId;
  }

  function errorEntry(status: number, message: string): Record<string, unknown> {
    // Adobe includes an xactionId on failed entries too: the status is what tells them apart.
    return { xactionId: randomUUID(), [statusField]: statusAsString ? String(status) : status, message };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const m = /^\/collection\/(?:(batch)\/)?([^/]+)\/?$/.exec(path);
    const { text, bytes, overLimit } = await readBody(req, maxBodyBytes);
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const authState: DcsRequestRecord['auth'] = !options.ims
      ? token === undefined
        ? 'none'
        : 'valid'
      : token === undefined
        ? 'none'
        : (() => {
            const s = options.ims.tokenState(token);
            return s === 'unknown' ? 'invalid' : s;
          })();
    const record: DcsRequestRecord = {
      path,
      inletId: m?.[2] ?? '',
      batch: m?.[1] === 'batch',
      outcome: 0,
      messages: 0,
      bytes,
      auth: authState,
      token,
      flowId: headerOne(req.headers['x-adobe-flow-id']),
      contentType: req.headers['content-type'],
    };
    requests.push(record);
    counters.requests += 1;
    const done = (outcome: DcsRequestRecord['outcome']) => {
      record.outcome = outcome;
      if (outcome === 'reset') counters.resets += 1;
      else if (outcome !== 'held') counters.byStatus[String(outcome)] = (counters.byStatus[String(outcome)] ?? 0) + 1;
      harness.changed('request', record);
    };
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => {
      sendJson(res, status, body, headers);
      done(status);
    };

    if (req.method !== 'POST' || !m) return reply(404, problem(404, 'Not Found'));

    const taken = takeFault(fault, random);
    if (taken.exhausted) fault = undefined;
    const f = taken.fault;

    const answer = () => {
      if (options.ims && (authState === 'none' || authState === 'invalid')) {
        counters.authFailures += 1;
        // Adobe's 401 body carries the status as a string.
        return reply(401, { type: 'https://ns.adobe.com/aep/errors/EXEG-0503-401', status: '401', title: 'Unauthorized', detail: 'Invalid or missing authorization' });
      }
      if (authState === 'expired') {
        counters.authFailures += 1;
        return reply(403, { status: '403', title: 'Forbidden', detail: 'Token expired' });
      }
      if (overLimit) return reply(413, problem(413, 'Request Entity Too Large', { message: `body of ${bytes} bytes exceeds ${maxBodyBytes}` }));
      if (!/^application\/json\b/i.test(record.contentType ?? '')) return reply(415, problem(415, 'Unsupported Media Type'));
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return reply(400, problem(400, 'Invalid JSON', { message: 'The request body is not valid JSON' }));
      }
      const inletId = record.inletId;
      if (!record.batch) {
        record.messages = 1;
        const why = validate(parsed);
        if (why) {
          counters.rejected += 1;
          return reply(400, problem(400, 'Invalid XDM message', { message: why }));
        }
        return reply(200, { inletId, xactionId: accept(parsed, inletId), receivedTimeMs: Date.now(), syncValidation: { skipped: true } });
      }
      const messages = (parsed as { messages?: unknown } | null)?.messages;
      if (!Array.isArray(messages)) return reply(400, problem(400, 'Bad Request', { message: 'messages must be an array' }));
      record.messages = messages.length;
      const verdicts = messages.map((msg) => validate(msg));
      if (invalidAs === 'request') {
        const bad = verdicts.findIndex((v) => v !== null);
        if (bad !== -1) {
          counters.rejected += 1;
          return reply(400, problem(400, 'Invalid XDM message', { message: `messages[${bad}]: ${verdicts[bad]}` }));
        }
      }
      const responses = messages.map((msg, i) => {
        const why = verdicts[i];
        if (why) {
          counters.rejected += 1;
          return errorEntry(400, why);
        }
        if (f?.kind === 'partial') {
          messageCounter += 1;
          if (messageCounter % f.everyNth === 0) return errorEntry(f.status ?? 503, 'Service Unavailable');
        }
        return { xactionId: accept(msg, inletId) };
      });
      const kept = f?.kind === 'drop-entries' ? responses.slice(0, f.keep) : responses;
      return reply(207, { inletId, batchId: randomUUID(), receivedTimeMs: Date.now(), responses: kept });
    };

    if (!f || f.kind === 'partial' || f.kind === 'drop-entries') return answer();
    switch (f.kind) {
      case 'status': {
        const headers: Record<string, string> = f.retryAfter === undefined ? {} : { 'retry-after': f.retryAfter };
        return reply(f.status, f.body ?? problem(f.status, http.STATUS_CODES[f.status] ?? 'Error'), headers);
      }
      case 'reset':
        res.socket?.destroy();
        return done('reset');
      case 'slow':
        return harness.later(f.delayMs, answer);
      case 'hold':
        harness.hold(answer, res);
        return done('held');
    }
  }

  const harness = new ServerHarness((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  await harness.listen();
  const port = harness.port;
  const origin = `http://127.0.0.1:${port}`;

  const dcs: FakeDcs = {
    origin,
    port,
    events: harness.events,
    inletUrl: (inletId = 'test-inlet') => `${origin}/collection/${inletId}`,
    batchUrl: (inletId = 'test-inlet') => `${origin}/collection/batch/${inletId}`,
    accepted,
    requests,
    counters,
    idCounts,
    setFault(f, o = {}) {
      fault = slotOf(f, o);
    },
    setValidator(v, as) {
      validate = v;
      if (as) invalidAs = as;
    },
    setErrorStatusField(field, asString = false) {
      statusField = field;
      statusAsString = asString;
    },
    release() {
      harness.releaseAll();
    },
    async outage() {
      await harness.stop();
      harness.changed('outage');
    },
    async restore() {
      await harness.listen(port);
      harness.changed('restore');
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(dcs), timeoutMs, 'DCS');
    },
    close: () => harness.close(),
  };
  return dcs;
}

function headerOne(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
