import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { batchUrlFromInletUrl, createAepSink, parseRetryAfter, type AepSinkDeps } from '../../src/adobe/dcs-client.js';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../../src/adobe/ims-token-provider.js';
import type { ClaimedMessage, MessageOutcome, Sink } from '../../src/delivery/types.js';
import { XDM_CONTENT_TYPE, type DcsMessage } from '../../src/mapping/types.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { captureLogger } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeDcsOptions, type FakeIms } from '../helpers/fake-adobe.js';

let nextId = 1;
/** A claimed message whose body is a serialized DCS message; `_id: null` leaves the id out. */
function claimed(options: { xdmId?: string | null; padding?: number } = {}): ClaimedMessage {
  const id = nextId++;
  const schemaRef = { id: 'https://ns.adobe.com/tenant/schemas/abc', contentType: XDM_CONTENT_TYPE };
  const entity: Record<string, unknown> = { timestamp: '2025-01-01T00:00:00.000Z' };
  if (options.xdmId !== null) entity._id = options.xdmId ?? `evt-${id}`;
  if (options.padding) entity.padding = 'x'.repeat(options.padding);
  const message: DcsMessage = {
    header: { schemaRef, datasetId: 'dataset-1', flowId: 'flow-1' },
    body: { xdmMeta: { schemaRef }, xdmEntity: entity },
  };
  return { id, eventId: `event-${id}`, kind: 'event', body: JSON.stringify(message), attempts: 0, acceptedAt: Date.now() };
}
const batchOf = (n: number) => Array.from({ length: n }, () => claimed());

let dispatcher: Agent;
let metrics: Metrics;
let logs: ReturnType<typeof captureLogger>;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;
let provider: TokenProvider | undefined;
let sink: Sink | undefined;

beforeEach(() => {
  dispatcher = createDispatcher();
  metrics = createMetrics({ defaultMetrics: false });
  logs = captureLogger();
});

afterEach(async () => {
  await sink?.close();
  await provider?.close();
  const all = logs.lines.join('\n');
  if (ims) {
    expect(all).not.toContain(ims.clientSecret);
    for (const t of ims.issuedTokens) expect(all).not.toContain(t);
  }
  await dcs?.close();
  await ims?.close();
  await dispatcher.close();
  sink = provider = ims = dcs = undefined;
});

async function setup(
  options: { auth?: boolean; dcs?: Omit<FakeDcsOptions, 'ims'>; sink?: Partial<AepSinkDeps>; imsSecret?: string } = {},
) {
  const auth = options.auth ?? true;
  if (auth) ims = await startFakeIms();
  dcs = await startFakeDcs({ ...options.dcs, ...(ims ? { ims } : {}) });
  if (ims) {
    provider = createImsTokenProvider({
      imsUrl: ims.urls.v3,
      clientId: ims.clientId,
      clientSecret: options.imsSecret ?? ims.clientSecret,
      scopes: 'openid,AdobeID',
      dispatcher,
      logger: logs.logger,
      metrics,
      retryBaseMs: 5,
      retryMaxMs: 20,
    });
  }
  sink = createAepSink({
    inletUrl: dcs.inletUrl('inlet-1'),
    flowId: 'flow-1',
    tokenProvider: provider,
    dispatcher,
    logger: logs.logger,
    metrics,
    requestTimeoutMs: 2_000,
    ...options.sink,
  });
  return { dcs, sink, ims };
}

const send = (batch: ClaimedMessage[], signal = new AbortController().signal) => sink!.send(batch, signal);
const outcomesOf = (out: MessageOutcome[]) => out.map((o) => o.outcome);
const logEntries = () => logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

async function aepRequests(status: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'relay_aep_requests_total');
  return metric?.values.find((v) => v.labels.status === status)?.value ?? 0;
}

describe('batch URL and Retry-After', () => {
  it('derives the batch endpoint from the inlet URL', () => {
    expect(batchUrlFromInletUrl('https://dcs.adobedc.net/collection/abc123')).toBe('https://dcs.adobedc.net/collection/batch/abc123');
    expect(batchUrlFromInletUrl('https://dcs.adobedc.net/collection/abc123/')).toBe('https://dcs.adobedc.net/collection/batch/abc123');
    expect(batchUrlFromInletUrl('https://dcs.adobedc.net/collection/batch/abc123')).toBe('https://dcs.adobedc.net/collection/batch/abc123');
    expect(batchUrlFromInletUrl('https://dcs.adobedc.net/collection/abc123?syncValidation=true&x=1')).toBe(
      'https://dcs.adobedc.net/collection/batch/abc123?x=1',
    );
    expect(batchUrlFromInletUrl(' https://dcs.adobedc.net/collection/abc?syncValidation=false ')).toBe('https://dcs.adobedc.net/collection/batch/abc');
    expect(batchUrlFromInletUrl('http://127.0.0.1:8080/prefix/collection/abc')).toBe('http://127.0.0.1:8080/prefix/collection/batch/abc');
  });

  it.each(['not a url', 'ftp://dcs.adobedc.net/collection/abc', 'https://dcs.adobedc.net/collection/', 'https://dcs.adobedc.net/other/abc', 'https://dcs.adobedc.net/collection/a/b'])(
    'refuses %s with a config error',
    (url) => {
      expect(() => batchUrlFromInletUrl(url)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    },
  );

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('AEP sink against the fake DCS', () => {
  it('207 with every entry ok: all delivered, body sent as serialized, headers set', async () => {
    await setup();
    const batch = batchOf(5);
    const out = await send(batch);
    // Each outcome names its request (for the attempt history) and Adobe's xactionId for the message.
    expect(out).toEqual(
      batch.map((m) => ({
        id: m.id,
        outcome: 'delivered',
        request: { at: expect.any(Number), durationMs: expect.any(Number), status: expect.any(Number), batchSize: batch.length, xactionId: expect.stringMatching(/.+/) },
      })),
    );
    expect(new Set(out.map((o) => o.request?.xactionId)).size).toBe(batch.length);
    const req = dcs!.requests[0]!;
    expect(req).toMatchObject({ path: '/collection/batch/inlet-1', batch: true, outcome: 207, messages: 5, auth: 'valid', flowId: 'flow-1' });
    expect(req.contentType).toBe('application/json');
    expect(req.bytes).toBe(Buffer.byteLength(`{"messages":[${batch.map((m) => m.body).join(',')}]}`));
    expect(dcs!.accepted.map((a) => a.message)).toEqual(batch.map((m) => JSON.parse(m.body)));
    expect([...dcs!.idCounts.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(await aepRequests('207')).toBe(1);
    expect(await metrics.registry.metrics()).toMatch(/^relay_aep_request_duration_seconds_count 1$/m);
  });

  it('an empty batch sends nothing', async () => {
    await setup();
    expect(await send([])).toEqual([]);
    expect(dcs!.requests).toHaveLength(0);
  });

  it('207 partial with statusCode: the bad message is rejected as invalid_xdm, the rest delivered', async () => {
    await setup();
    const batch = [claimed(), claimed({ xdmId: null }), claimed()];
    const out = await send(batch);
    expect(outcomesOf(out)).toEqual(['delivered', 'rejected', 'delivered']);
    expect(out[1]).toMatchObject({ id: batch[1]!.id, reason: 'invalid_xdm', detail: expect.stringContaining('Missing required field') });
    expect(dcs!.requests).toHaveLength(1);
    const error = logEntries().find((l) => l.msg === 'AEP rejected message');
    expect(error).toMatchObject({ level: 50, messageId: batch[1]!.id, eventId: batch[1]!.eventId, reason: 'invalid_xdm' });
  });

  it('207 partial with a string `status` field reads the same', async () => {
    await setup({ dcs: { errorStatusField: 'status', errorStatusAsString: true } });
    const out = await send([claimed({ xdmId: null }), claimed()]);
    expect(outcomesOf(out)).toEqual(['rejected', 'delivered']);
  });

  it('207 with per-message 503 and 429 entries: those are retried, the rest delivered', async () => {
    await setup({ dcs: { errorStatusField: 'status' } });
    dcs!.setFault({ kind: 'partial', everyNth: 3 });
    let out = await send(batchOf(6));
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered', 'retry', 'delivered', 'delivered', 'retry']);
    expect(out[2]).toMatchObject({ reason: 'http_5xx' });
    dcs!.setFault({ kind: 'partial', everyNth: 2, status: 429 });
    out = await send(batchOf(2));
    expect(out[1]).toMatchObject({ outcome: 'retry', reason: 'http_429' });
    expect(dcs!.accepted).toHaveLength(5);
  });

  it('missing response entries are retried as http_5xx', async () => {
    await setup();
    dcs!.setFault({ kind: 'drop-entries', keep: 2 });
    const out = await send(batchOf(5));
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered', 'retry', 'retry', 'retry']);
    expect(out[4]).toMatchObject({ reason: 'http_5xx', detail: 'missing response entry' });
  });

  it('a whole-batch 400 is split in halves until the bad message stands alone', async () => {
    await setup({ dcs: { invalidAs: 'request' } });
    const batch = batchOf(8);
    batch[5] = claimed({ xdmId: null });
    const out = await send(batch);
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'rejected', 'delivered', 'delivered']);
    expect(out[5]).toMatchObject({ reason: 'invalid_xdm', detail: expect.stringMatching(/HTTP 400: Invalid XDM message: .*Missing required field/) });
    // 8 -> 4 ok + 4 bad -> 2 bad (then 1 ok + 1 bad) + 2 ok
    expect(dcs!.requests.map((r) => `${r.messages}:${r.outcome}`)).toEqual(['8:400', '4:207', '4:400', '2:400', '1:207', '1:400', '2:207']);
    expect(dcs!.accepted).toHaveLength(7);
  });

  it('a 413 is split in halves; a single message too large is rejected as too_large', async () => {
    await setup({ dcs: { maxBodyBytes: 3_000 } });
    const batch = [...Array.from({ length: 6 }, () => claimed({ padding: 800 })), claimed({ padding: 4_000 })];
    const out = await send(batch);
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'rejected']);
    expect(out[6]).toMatchObject({ reason: 'too_large', detail: expect.stringContaining('413') });
    expect(dcs!.requests.filter((r) => r.outcome === 413).length).toBeGreaterThan(1);
    expect(dcs!.requests.length).toBeGreaterThan(0);
    expect(dcs!.requests.filter((r) => !(r.outcome === 413 || r.bytes <= 3_000))).toEqual([]);
  });

  it('batches over maxRequestBytes are split before sending', async () => {
    await setup({ sink: { maxRequestBytes: 2_500 } });
    const out = await send(Array.from({ length: 6 }, () => claimed({ padding: 800 })));
    expect(new Set(outcomesOf(out))).toEqual(new Set(['delivered']));
    expect(dcs!.requests.length).toBeGreaterThan(0);
    expect(dcs!.requests.filter((r) => !(r.outcome === 207 && r.bytes <= 2_500))).toEqual([]);
  });

  it('401 (string status) for a revoked token: invalidate, mint once, retry once, delivered', async () => {
    await setup();
    await send(batchOf(1));
    ims!.revokeTokens();
    const out = await send(batchOf(3));
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(dcs!.requests.slice(1).map((r) => [r.outcome, r.auth])).toEqual([
      [401, 'invalid'],
      [207, 'valid'],
    ]);
    expect(ims!.mints).toBe(2);
  });

  it('403 for an expired token takes the same path', async () => {
    await setup();
    await send(batchOf(1));
    ims!.expireTokens();
    const out = await send(batchOf(2));
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered']);
    expect(dcs!.requests.map((r) => r.outcome)).toEqual([207, 403, 207]);
    expect(ims!.mints).toBe(2);
  });

  it('401 again after the fresh token: retry with reason auth, no third request', async () => {
    await setup();
    dcs!.setFault({ kind: 'status', status: 401, body: { status: '401', title: 'Unauthorized' } });
    const out = await send(batchOf(2));
    expect(out).toEqual([
      expect.objectContaining({ outcome: 'retry', reason: 'auth', detail: 'HTTP 401: Unauthorized' }),
      expect.objectContaining({ outcome: 'retry', reason: 'auth' }),
    ]);
    expect(dcs!.requests).toHaveLength(2);
    expect(ims!.mints).toBe(2);
  });

  it('no token obtainable: every message retried with reason auth, nothing sent to AEP', async () => {
    await setup({ imsSecret: 'not-the-secret-123' });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'auth' && o.detail.includes('IMS_REJECTED')))).toEqual([]);
    expect(dcs!.requests).toHaveLength(0);
    expect(logs.lines.join('\n')).not.toContain('not-the-secret-123');
  });

  it('an unauthenticated inlet gets no Authorization header', async () => {
    await setup({ auth: false });
    const out = await send(batchOf(2));
    expect(outcomesOf(out)).toEqual(['delivered', 'delivered']);
    expect(dcs!.requests[0]).toMatchObject({ auth: 'none', token: undefined });
  });

  it.each([
    ['seconds', '7', (ms: number | undefined) => expect(ms).toBe(7_000)],
    ['an HTTP date', new Date(Date.now() + 30_000).toUTCString(), (ms: number | undefined) => expect(ms).toBeGreaterThan(27_000)],
  ])('429 with Retry-After in %s', async (_name, retryAfter, check) => {
    await setup();
    dcs!.setFault({ kind: 'status', status: 429, retryAfter });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'http_429'))).toEqual([]);
    check(out[0]!.outcome === 'retry' ? out[0]!.retryAfterMs : undefined);
    expect(await aepRequests('429')).toBe(1);
    expect(logEntries().find((l) => l.msg === 'AEP delivery will be retried')).toMatchObject({ level: 40, reason: 'http_429' });
  });

  it('429 without Retry-After has no retryAfterMs', async () => {
    await setup();
    dcs!.setFault({ kind: 'status', status: 429 });
    const [o] = await send(batchOf(1));
    expect(o).toMatchObject({ outcome: 'retry', reason: 'http_429' });
    expect(o).not.toHaveProperty('retryAfterMs');
  });

  it.each([500, 502, 503, 504])('%i is retried as http_5xx', async (status) => {
    await setup();
    dcs!.setFault({ kind: 'status', status });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'http_5xx' && o.detail.startsWith(`HTTP ${status}`)))).toEqual([]);
    expect(dcs!.accepted).toHaveLength(0);
  });

  it('another 4xx (inlet misconfigured) is retried as http_4xx, never dead-lettered', async () => {
    await setup();
    dcs!.setFault({ kind: 'status', status: 404 });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'http_4xx'))).toEqual([]);
  });

  it('a connection reset mid-request is retried as network', async () => {
    await setup();
    dcs!.setFault({ kind: 'reset' }, { times: 1 });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'network'))).toEqual([]);
    expect(await aepRequests('network_error')).toBe(1);
    expect(outcomesOf(await send(batchOf(1)))).toEqual(['delivered']);
  });

  it('no answer within requestTimeoutMs is retried as timeout', async () => {
    await setup({ sink: { requestTimeoutMs: 100 } });
    await provider!.getToken();
    dcs!.setFault({ kind: 'hold' });
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'timeout'))).toEqual([]);
  });

  it('an outage (connection refused) is retried as network; delivery resumes after restore', async () => {
    await setup();
    await provider!.getToken();
    await dcs!.outage();
    const out = await send(batchOf(2));
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'network' && o.detail === 'ECONNREFUSED'))).toEqual([]);
    await dcs!.restore();
    expect(outcomesOf(await send(batchOf(2)))).toEqual(['delivered', 'delivered']);
  });

  it("the caller's abort ends the request: retry, not a throw", async () => {
    await setup();
    await provider!.getToken();
    dcs!.setFault({ kind: 'hold' });
    const ac = new AbortController();
    const pending = send(batchOf(2), ac.signal);
    await dcs!.waitFor((d) => d.requests.length === 1);
    ac.abort();
    const out = await pending;
    expect(out).toHaveLength(2);
    expect(out.filter((o) => !(o.outcome === 'retry' && o.reason === 'network'))).toEqual([]);
  });

  it('after close, send answers retry without sending', async () => {
    await setup();
    await sink!.close();
    const out = await send(batchOf(1));
    expect(out[0]).toMatchObject({ outcome: 'retry', reason: 'network', detail: 'sink closed' });
    expect(dcs!.requests).toHaveLength(0);
  });

  it('readiness: ok without a token provider, ok with a token, not ok when IMS refuses', async () => {
    await setup({ auth: false });
    expect(await sink!.readiness()).toEqual({ ok: true });
    await sink!.close();
    await dcs!.close();
    dcs = undefined;

    await setup();
    expect(await sink!.readiness()).toEqual({ ok: true });
    expect(ims!.mints).toBe(1);

    const refusedProvider = createImsTokenProvider({
      imsUrl: ims!.urls.v3,
      clientId: 'someone-else',
      clientSecret: ims!.clientSecret,
      scopes: 'openid',
      dispatcher,
      logger: logs.logger,
      metrics,
    });
    const refused = createAepSink({
      inletUrl: dcs!.inletUrl(),
      tokenProvider: refusedProvider,
      dispatcher,
      logger: logs.logger,
      metrics,
      requestTimeoutMs: 1_000,
    });
    expect(await refused.readiness()).toEqual({ ok: false, reason: 'no IMS token: IMS_REJECTED' });
    await refused.close();
    await refusedProvider.close();
  });
});
