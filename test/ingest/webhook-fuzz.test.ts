import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, TEST_SECRET, type TestApp } from '../helpers/build-app.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';

/**
 * Hostile and broken input against POST /webhooks/capillary (and the same path with other methods):
 * never a 500, never a crash or an unhandled rejection, never internal detail in an error body, and
 * always a status the interface defines for the route.
 */

const URL = '/webhooks/capillary';
const LIMIT = 1_048_576; // the smallest WEBHOOK_BODY_LIMIT_BYTES allowed, so bodies near it stay cheap
/** What the interface lets the webhook route answer. */
const ROUTE_STATUSES = new Set([202, 400, 401, 413, 415, 429, 503]);
/** Another method on the path, or a path next to it. */
const OTHER_STATUSES = new Set([404, 405]);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const onUncaught = (error: unknown) => unhandled.push(error);
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

let t: TestApp;
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUncaught);
  t = await buildTestApp({ WEBHOOK_BODY_LIMIT_BYTES: String(LIMIT), LOG_LEVEL: 'warn' });
});
afterEach(() => {
  expect(unhandled).toEqual([]);
  // No body may have polluted the prototype of every object in the process.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});
afterAll(async () => {
  await t?.close();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUncaught);
});

// ---------------------------------------------------------------- generators

const sampleNames = Object.keys(SAMPLES);
let counter = 0;
const freshId = () => `fuzz-${process.pid}-${counter++}`;

/** A real Capillary sample with a fresh id, sometimes with extra random fields. */
const sampleBody = fc.tuple(fc.constantFrom(...sampleNames), fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 })).map(([name, extra]) => {
  const body = { ...extra, ...sampleWithId(name, 'placeholder') };
  body['eventId'] = freshId();
  return JSON.stringify(body);
});

const POLLUTERS = [
  '{"__proto__":{"polluted":"yes"},"eventId":"p1","eventName":"pointsIssued"}',
  '{"eventId":"p2","data":{"__proto__":{"polluted":"yes"}}}',
  '{"constructor":{"prototype":{"polluted":"yes"}},"eventId":"p3"}',
  '{"eventId":"p4","attributes":{"constructor":{"prototype":{"polluted":"yes"}}}}',
  '{"body":{"__proto__":{"eventId":"p5","polluted":"yes"}}}',
  '{"eventId":"p6","data":{"customerIdentifiers":{"__proto__":null}}}',
  '{"eventId":"p7","eventName":"__proto__","data":{"constructor":"x","toString":1,"hasOwnProperty":null}}',
];

const deepNesting = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":'), fc.boolean()).map(([depth, open, wrap]) => {
  const close = open === '[' ? ']' : '}';
  const nested = open.repeat(depth) + '1' + close.repeat(depth);
  return wrap ? `{"eventId":"${freshId()}","eventName":"pointsIssued","data":${nested}}` : nested;
});

/** Valid JSON that is not an event: scalars, arrays, objects without an id, ids of the wrong type. */
const nonEventJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('null', 'true', '0', '-1e309', '"eventId"', '[]', '{}', '{"eventId":null}', '{"eventId":""}', '{"eventId":"  "}', '{"eventId":{}}', '{"eventId":[1]}', '{"eventId":1e400}', '{"body":[]}', '{"attributes":"x","eventId":"a"}'),
);

/** Broken JSON: truncated events, garbage, invalid UTF-8, BOMs, NUL bytes. */
const brokenJson = fc.oneof(
  fc.tuple(sampleBody, fc.double({ min: 0, max: 1, noNaN: true })).map(([s, cut]) => s.slice(0, Math.floor(s.length * cut))),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom('\uFEFF{"eventId":"bom"}', '{"eventId":"nul\u0000"}', '{"eventId":"a",}', "{'eventId':'a'}", '{"eventId":"a"} trailing', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
);

/** Bodies around the size limit: a valid event padded to just under, at, or just over it. */
const nearLimit = fc.integer({ min: -64, max: 64 }).map((delta) => {
  const head = `{"eventId":"${freshId()}","eventName":"pointsIssued","data":{"pad":"`;
  const tail = '"}}';
  return head + 'x'.repeat(Math.max(0, LIMIT + delta - head.length - tail.length)) + tail;
});

const body = fc.oneof(
  { weight: 3, arbitrary: sampleBody },
  { weight: 2, arbitrary: nonEventJson },
  { weight: 3, arbitrary: brokenJson },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: fc.constantFrom(...POLLUTERS) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/vnd.capillary.event+json',
      'application/json;;;',
      'application/jsonp',
      'text/json',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----fuzz',
      'application/octet-stream',
      '*/*',
      'json',
      'application/',
      '/json',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)) },
);

const token = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s));
const headerValue = fc.string({ maxLength: 60 }).filter((s) => /^[\x20-\x7e]*$/.test(s.trim()) && s.trim() === s);

const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constant(TEST_SECRET) },
  { weight: 2, arbitrary: fc.constantFrom(undefined, '', `${TEST_SECRET} `, `Bearer ${TEST_SECRET}`, TEST_SECRET.toUpperCase(), TEST_SECRET.slice(1)) },
  { weight: 1, arbitrary: headerValue },
);

const extraHeaders = fc.dictionary(
  token.filter((name) => !['content-type', 'content-length', 'authorization', 'transfer-encoding', 'host', 'expect', 'connection'].includes(name.toLowerCase())),
  headerValue,
  { maxKeys: 4 },
);

const request = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constant('POST' as const) }, { weight: 2, arbitrary: fc.constantFrom('GET' as const, 'PUT' as const, 'PATCH' as const, 'DELETE' as const, 'OPTIONS' as const, 'HEAD' as const) }),
  url: fc.oneof({ weight: 9, arbitrary: fc.constant(URL) }, { weight: 1, arbitrary: fc.constantFrom(`${URL}?x=1`, `${URL}?eventId=a&__proto__[polluted]=1`, `${URL}/`, `${URL}/extra`, '/webhooks/capillary%00', '/webhooks//capillary') }),
  contentType,
  authorization,
  extraHeaders,
  body,
  lengthSkew: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: -1 }) }),
});

// ---------------------------------------------------------------- the properties

type Req = typeof request extends fc.Arbitrary<infer R> ? R : never;

async function send(app: TestApp['app'], r: Req): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...r.extraHeaders };
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.authorization !== undefined) headers['authorization'] = r.authorization;
  if (r.body !== undefined && r.lengthSkew !== 0) headers['content-length'] = String(Math.max(0, Buffer.byteLength(r.body) + r.lengthSkew));
  const options: InjectOptions = { method: r.method, url: r.url, headers, ...(r.body === undefined ? {} : { payload: r.body }) };
  return app.inject(options);
}

function checkAnswer(r: Req, res: LightMyRequestResponse, options: { rateLimited?: boolean } = {}): void {
  const exactPath = r.url === URL || r.url.startsWith(`${URL}?`);
  // Odd spellings of the path (`%00`, a trailing slash) may or may not reach the route: either way
  // the answer must be one the interface defines. Once over the limit, any path and method gets 429:
  // the rate limit comes before routing and authentication (src/http/edge.ts).
  const allowed = new Set(r.method !== 'POST' ? OTHER_STATUSES : exactPath ? ROUTE_STATUSES : [...ROUTE_STATUSES, ...OTHER_STATUSES]);
  if (options.rateLimited) allowed.add(429);
  expect(allowed.has(res.statusCode), `${r.method} ${r.url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`).toBe(true);
  if (r.method === 'HEAD') return;
  const json = res.json<Record<string, unknown>>();
  if (res.statusCode === 202) {
    expect(Object.keys(json).sort()).toEqual(['eventId', 'status']);
    expect(['accepted', 'duplicate']).toContain(json['status']);
    return;
  }
  // Error bodies: {error, message}, a stable code and a sentence, and nothing internal.
  expect(Object.keys(json).sort(), res.body).toEqual(['error', 'message']);
  expect(json['error']).toMatch(/^[a-z_]+$/);
  expect(res.body).not.toMatch(/\n\s+at |node_modules|\/src\/|\.ts:\d|FST_ERR|SQLITE/);
  if (res.statusCode === 503 || res.statusCode === 429) expect(res.headers['retry-after'], `${res.statusCode} without Retry-After`).toBeDefined();
}

describe('webhook route under hostile input', () => {
  it('answers every random request with a status of the interface, never 500, with a clean body', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await send(t.app, r);
        seen.add(res.statusCode);
        checkAnswer(r, res);
      }),
      { numRuns: 1000 },
    );
    // The generators reach every branch of the route, not just one refusal.
    for (const status of [202, 400, 401, 404, 415]) expect(seen, `no request was answered ${status}`).toContain(status);
  });

  it('answers the body-size edge: accepted up to the limit, 413 beyond it', async () => {
    await fc.assert(
      fc.asyncProperty(nearLimit, async (payload) => {
        const res = await t.app.inject({ method: 'POST', url: URL, headers: { authorization: TEST_SECRET, 'content-type': 'application/json' }, payload });
        expect(res.statusCode).toBe(Buffer.byteLength(payload) > LIMIT ? 413 : 202);
      }),
      { numRuns: 12 },
    );
  });

  it('strips prototype-polluting keys without touching Object.prototype, and keeps the event they came with', async () => {
    for (const payload of POLLUTERS) {
      const res = await t.app.inject({ method: 'POST', url: URL, headers: { authorization: TEST_SECRET, 'content-type': 'application/json' }, payload });
      expect([202, 400], `${payload}: ${res.statusCode}`).toContain(res.statusCode);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // A real event carrying a poisoning key is still an event: a 400 would make Capillary drop it.
    const withProto = await t.app.inject({ method: 'POST', url: URL, headers: { authorization: TEST_SECRET, 'content-type': 'application/json' }, payload: POLLUTERS[0]! });
    expect(withProto.statusCode).toBe(202);
  });

  it('answers 429 with Retry-After, not an error, once a sender goes over the rate limit', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000', LOG_LEVEL: 'warn' });
    try {
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          checkAnswer(r, await send(limited.app, r), { rateLimited: true });
        }),
        { numRuns: 60 },
      );
      const res = await limited.app.inject({ method: 'POST', url: URL, headers: { authorization: TEST_SECRET, 'content-type': 'application/json' }, payload: JSON.stringify(sampleWithId('points-issued', freshId())) });
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});
