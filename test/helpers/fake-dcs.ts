/**
 * A local stand-in for AEP streaming ingestion (DCS): batch and single endpoints, 207 per message,
 * 401 with a string status, 413 over 1 MB, and fault modes (outage, 429, 5xx, resets, slow, partial).
 */
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { FakeIms } from './fake-ims.js';
import { messageKey } from './message-key.js';
import { ServerHarness, isTransportFault, headerOne, readBody, sendJson, slotOf, takeFault, type FaultOptions, type FaultSlot } from './fake-server.js';
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
  | { kind: 'drop-entries'; keep: number }
  /**
   * The batch is ingested, then its answer is mangled: 'invalid-json' (a 207 whose body does not
   * parse), 'truncated' (Content-Length promises the whole 207, the socket closes halfway), 'html'
   * (a 200 with an HTML error page, as a proxy in front of the inlet might send).
   */
  | { kind: 'garbled'; form: 'invalid-json' | 'truncated' | 'html' };

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
  /** `messageKey(message)`: profile records are identified too. */
  key: string;
  /** Index in `requests` of the request that carried it. */
  requestIndex: number;
  inletId: string;
  xactionId: string;
  message?: unknown;
}

export interface DcsRequestRecord {
  /** Position in `requests` (arrival order). */
  index: number;
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
  /** The fault this request was served with (its kind), if any. */
  fault: FakeDcsFault['kind'] | undefined;
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
  /** How many times each message was accepted, keyed by `messageKey` (profile records included). */
  readonly keyCounts: Map<string, number>;
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
  const keyCounts = new Map<string, number>();
  const counters = { requests: 0, accepted: 0, rejected: 0, authFailures: 0, resets: 0, byStatus: {} as Record<string, number> };

  function accept(message: unknown, request: DcsRequestRecord): string {
    const inletId = request.inletId;
    const xactionId = `${randomUUID()}-${inletId}`;
    const id = idOf(message);
    if (id !== undefined) idCounts.set(id, (idCounts.get(id) ?? 0) + 1);
    const key = messageKey(message);
    keyCounts.set(key, (keyCounts.get(key) ?? 0) + 1);
    const entry = { id, key, requestIndex: request.index, inletId, xactionId };
    accepted.push(recordMessages ? { ...entry, message } : entry);
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
      index: requests.length,
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
      fault: undefined,
    };
    requests.push(record);
    counters.requests += 1;
    // Synchronous, so a test can tag the request with what was happening when it arrived (a kill...).
    harness.events.emit('arrival', record);
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
    record.fault = f?.kind;

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
        return reply(200, { inletId, xactionId: accept(parsed, record), receivedTimeMs: Date.now(), syncValidation: { skipped: true } });
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
        return { xactionId: accept(msg, record) };
      });
      const kept = f?.kind === 'drop-entries' ? responses.slice(0, f.keep) : responses;
      if (f?.kind === 'garbled') return replyGarbled(f.form, { inletId, batchId: randomUUID(), receivedTimeMs: Date.now(), responses: kept });
      return reply(207, { inletId, batchId: randomUUID(), receivedTimeMs: Date.now(), responses: kept });
    };

    const replyGarbled = (form: 'invalid-json' | 'truncated' | 'html', body: unknown) => {
      const json = JSON.stringify(body);
      if (form === 'html') {
        const page = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
        res.end(page);
        return done(200);
      }
      if (form === 'invalid-json') {
        const text = json.replace('"responses"', 'responses');
        res.writeHead(207, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return done(207);
      }
      res.writeHead(207, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.write(json.slice(0, Math.floor(json.length / 2)), () => res.socket?.destroy());
      return done('reset');
    };

    if (!f || f.kind === 'partial' || f.kind === 'drop-entries' || f.kind === 'garbled') return answer();
    if (isTransportFault(f)) return harness.playTransportFault(f, res, answer, done);
    switch (f.kind) {
      case 'status': {
        const headers: Record<string, string> = f.retryAfter === undefined ? {} : { 'retry-after': f.retryAfter };
        return reply(f.status, f.body ?? problem(f.status, http.STATUS_CODES[f.status] ?? 'Error'), headers);
      }
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
    keyCounts,
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
    outage: () => harness.outage(),
    restore: () => harness.restore(),
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(dcs), timeoutMs, 'DCS');
    },
    close: () => harness.close(),
  };
  return dcs;
}
