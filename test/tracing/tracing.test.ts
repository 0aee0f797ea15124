import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import relayApp, { serverOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { startTracing, type Tracing } from '../../src/tracing/tracing.js';
import { activeTraceFields } from '../../src/tracing/spans.js';
import { aepEnv } from '../helpers/aep-relay.js';
import { ADMIN_TOKEN, LogCapture, TEST_SECRET, authHeaders } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Traces end to end, exported over OTLP/HTTP to a real in-process receiver: the webhook's server
 * span, the delivery batch span linked to it through the store, and the IMS and DCS client spans.
 */
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const FAST = {
  DELIVERY_RETRY_BASE_MS: '10',
  DELIVERY_RETRY_MAX_MS: '50',
  DELIVERY_LINGER_MS: '5',
  DELIVERY_POLL_INTERVAL_MS: '20',
  DELIVERY_REQUEST_TIMEOUT_MS: '1000',
  LOG_LEVEL: 'trace',
};

let receiver: OtlpReceiver;
let ims: FakeIms;
let dcs: FakeDcs;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims });
});
afterAll(async () => {
  // Whatever the tests did, no exported byte carries a secret or a token.
  const exported = receiver.requests.map((r) => r.body.toString('latin1')).join('\n');
  expect(receiver.requests.length).toBeGreaterThan(0);
  for (const secret of [TEST_SECRET, ADMIN_TOKEN, ims.clientSecret, ...ims.issuedTokens]) expect(exported).not.toContain(secret);
  await Promise.all([receiver.close(), ims.close(), dcs.close()]);
});

/** The relay as server.ts builds it, with tracing started from `otel` (process.env for the SDK). */
async function startRelay(otel: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, otel);
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(process.env);
  } finally {
    process.env = saved;
  }
  const dir = mkdtempSync(join(tmpdir(), 'relay-otel-'));
  const config = loadConfig({
    CAPILLARY_AUTH_SECRETS: TEST_SECRET,
    ADMIN_TOKEN,
    STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    ...aepEnv(ims, dcs, FAST),
  });
  const logs = new LogCapture();
  const app = Fastify(serverOptions(config, createLogger({ level: 'trace', ...(tracing ? { traceFields: activeTraceFields } : {}) }, logs)));
  if (tracing) app.addHook('onClose', tracing.shutdown);
  await app.register(relayApp, { config, ...(tracing ? { tracing } : {}) });
  await app.ready();
  return {
    app,
    tracing,
    logs,
    post: (eventId: string, headers: Record<string, string> = authHeaders) =>
      app.inject({ method: 'POST', url: '/webhooks/capillary', headers, payload: JSON.stringify(sampleWithId('points-issued', eventId)) }),
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const deliveredIds = () => new Set(dcs.accepted.map((a) => a.id));
const spansNamed = (name: string) => receiver.spans.filter((s) => s.name === name);
const linksTo = (span: ReceivedSpan) => (s: ReceivedSpan) => s.links.some((l) => l.traceId === span.traceId && l.spanId === span.spanId);

/** Flushes until `find` sees what it wants in the exported spans (the batch processor exports in the background). */
async function exported<T>(relay: { tracing: Tracing | undefined }, find: () => T | undefined): Promise<NonNullable<T>> {
  return waitFor(async () => {
    await relay.tracing?.forceFlush();
    return find();
  });
}

describe('tracing on (http/json)', () => {
  let relay: Awaited<ReturnType<typeof startRelay>>;
  beforeAll(async () => {
    relay = await startRelay({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'relay-under-test' });
  });
  afterAll(() => relay.close());
  afterEach(() => dcs.setFault(null));

  it('one webhook gives a server span, then a batch span linked to it with IMS and DCS client spans', async () => {
    const res = await relay.post('otel-one', { ...authHeaders, 'x-request-id': 'cap-req-1' });
    expect(res.statusCode).toBe(202);
    await waitFor(() => dcs.accepted.some((a) => a.id === 'otel-one'));

    const server = await exported(relay, () => receiver.spans.find((s) => s.kind === SERVER && s.attributes['capillary.event_id'] === 'otel-one'));
    expect(server).toMatchObject({
      name: 'POST /webhooks/capillary',
      serviceName: 'relay-under-test',
      attributes: { 'capillary.event_name': 'pointsIssued', 'capillary.outcome': 'accepted', 'capillary.request_id': 'cap-req-1', 'http.response.status_code': 202 },
    });
    expect(server.attributes['capillary.org_id']).toEqual(expect.any(String));

    const batch = await exported(relay, () => spansNamed('deliver batch').find(linksTo(server)));
    expect(batch.kind).toBe(PRODUCER);
    expect(batch.traceId).not.toBe(server.traceId);
    expect(batch.attributes).toMatchObject({ 'capillary.delivery.attempt': 1, 'capillary.delivered': batch.attributes['capillary.batch.size'] });
    expect(batch.links.find((l) => l.spanId === server.spanId)?.attributes).toEqual({ 'capillary.event_id': 'otel-one', 'capillary.delivery.attempt': 1 });

    const children = await exported(relay, () => {
      const found = receiver.spans.filter((s) => s.parentSpanId === batch.spanId);
      return found.some((s) => s.name === 'POST dcs batch') ? found : undefined;
    });
    const dcsSpan = children.find((s) => s.name === 'POST dcs batch')!;
    expect(dcsSpan.kind).toBe(CLIENT);
    // DCS answers a batch with 207 and one entry (with its xactionId) per message.
    expect(dcsSpan.attributes).toMatchObject({ 'http.response.status_code': 207, 'aep.inlet_id': expect.any(String), 'capillary.batch.size': expect.any(Number) });
    const xactionIds = dcsSpan.attributes['aep.xaction_ids'] as string[];
    expect(xactionIds).toContain(dcs.accepted.find((a) => a.id === 'otel-one')!.xactionId);
    // The first delivery minted the token inside its batch span.
    const imsSpan = children.find((s) => s.name === 'POST ims token');
    expect(imsSpan).toMatchObject({ kind: CLIENT, attributes: { 'http.response.status_code': 200, 'url.path': expect.any(String) } });

    // Log lines written inside a span carry its ids.
    const lines = relay.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'event accepted' && l.trace_id === server.traceId)).toBeDefined();
    expect(lines.find((l) => l.msg === 'batch sent' && l.trace_id === batch.traceId && l.span_id === batch.spanId)).toBeDefined();
  });

  it("continues a proxy's traceparent, and marks a duplicate and a refusal", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    expect((await relay.post('otel-proxied', { ...authHeaders, traceparent: `00-${traceId}-${parent}-01` })).statusCode).toBe(202);
    expect((await relay.post('otel-proxied')).statusCode).toBe(202);
    expect((await relay.post('otel-proxied', { 'content-type': 'application/json', authorization: 'wrong-secret-0123456789' })).statusCode).toBe(401);

    const proxied = await exported(relay, () => receiver.spans.find((s) => s.kind === SERVER && s.traceId === traceId));
    expect(proxied).toMatchObject({ parentSpanId: parent, attributes: { 'capillary.event_id': 'otel-proxied', 'capillary.outcome': 'accepted' } });
    const duplicate = await exported(relay, () =>
      receiver.spans.find((s) => s.attributes['capillary.event_id'] === 'otel-proxied' && s.attributes['capillary.outcome'] === 'duplicate'),
    );
    expect(duplicate.traceId).not.toBe(traceId);
    const refused = await exported(relay, () => receiver.spans.find((s) => s.kind === SERVER && s.attributes['capillary.outcome'] === 'refused'));
    expect(refused.attributes).toMatchObject({ 'capillary.refused_status': 401, 'http.response.status_code': 401 });
    // Delivery links back into the proxy's trace.
    await exported(relay, () => spansNamed('deliver batch').find(linksTo(proxied)));
  });

  it('a retry after a 503 shows as a second attempt linked to the same intake', async () => {
    dcs.setFault({ kind: 'status', status: 503 }, { times: 1 });
    expect((await relay.post('otel-retried')).statusCode).toBe(202);
    await waitFor(() => deliveredIds().has('otel-retried'));
    const server = await exported(relay, () => receiver.spans.find((s) => s.kind === SERVER && s.attributes['capillary.event_id'] === 'otel-retried'));
    const attempts = await exported(relay, () => {
      const batches = spansNamed('deliver batch').filter(linksTo(server));
      return batches.length >= 2 ? batches : undefined;
    });
    const [first, second] = attempts.sort((a, b) => Number(a.attributes['capillary.delivery.attempt']) - Number(b.attributes['capillary.delivery.attempt']));
    expect(first!.attributes['capillary.delivery.attempt']).toBe(1);
    expect(first!.events).toContainEqual({ name: 'retry', attributes: { 'capillary.retry_reason': 'http_5xx', 'capillary.messages': expect.any(Number) } });
    expect(first!.status.code).toBe(2);
    expect(receiver.spans.find((s) => s.parentSpanId === first!.spanId && s.name === 'POST dcs batch')?.attributes['http.response.status_code']).toBe(503);
    expect(second!.attributes).toMatchObject({ 'capillary.delivery.attempt': 2, 'capillary.delivered': second!.attributes['capillary.batch.size'], 'capillary.retried': 0 });
    expect(second!.links.find((l) => l.spanId === server.spanId)?.attributes['capillary.delivery.attempt']).toBe(2);
  });
});

describe('tracing on (http/protobuf)', () => {
  it('exports protobuf to the same endpoint', async () => {
    const relay = await startRelay({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    try {
      expect(relay.tracing?.protocol).toBe('http/protobuf');
      expect((await relay.post('otel-protobuf')).statusCode).toBe(202);
      const request = await exported(relay, () =>
        receiver.requests.find((r) => r.contentType === 'application/x-protobuf' && r.body.includes('otel-protobuf') && r.body.includes('POST /webhooks/capillary')),
      );
      expect(request.path).toBe('/v1/traces');
    } finally {
      await relay.close();
    }
  });
});

describe('tracing off', () => {
  it('starts no SDK without an endpoint, or when disabled, and exports nothing', async () => {
    expect(await startTracing({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    const before = receiver.requests.length;
    const relay = await startRelay({});
    try {
      expect(relay.tracing).toBeUndefined();
      expect((await relay.post('otel-off')).statusCode).toBe(202);
      await waitFor(() => deliveredIds().has('otel-off'));
      await relay.app.close();
      expect(receiver.requests.length).toBe(before);
      expect(relay.logs.text).not.toContain('trace_id');
    } finally {
      await relay.close();
    }
  });

  it('refuses a protocol it has no exporter for, naming the variable', async () => {
    await expect(startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).rejects.toThrow(ConfigError);
    await expect(startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).rejects.toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
  });
});
