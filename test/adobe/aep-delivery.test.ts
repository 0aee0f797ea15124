import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { createImsTokenProvider } from '../../src/adobe/ims-token-provider.js';
import { XDM_CONTENT_TYPE } from '../../src/mapping/types.js';
import { createMetrics } from '../../src/metrics.js';
import { AEP, aepEnv, xdmId, xdmMessageValidator } from '../helpers/aep-relay.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type DcsRequestRecord, type FakeDcs, type FakeDcsOptions, type FakeIms } from '../helpers/fake-adobe.js';
import { metricValue, scrapedValue } from '../helpers/metric-values.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The relay end to end against the fake Adobe: webhooks in through app.inject, the real delivery
 * worker, AEP sink, IMS token provider and undici dispatcher out to real local HTTP servers.
 */
let t: TestApp | undefined;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;

afterEach(async () => {
  const logs = t?.logs.text ?? '';
  await t?.close();
  if (ims) {
    // Whatever happened, no log line carries the client secret or a token.
    expect(logs).not.toContain(ims.clientSecret);
    for (const token of ims.issuedTokens) expect(logs).not.toContain(token);
  }
  await dcs?.close();
  await ims?.close();
  t = ims = dcs = undefined;
});

/** Fast settings: short backoff, a short circuit, a short linger, and small batches unless overridden. */
const FAST = {
  DELIVERY_RETRY_BASE_MS: '10',
  DELIVERY_RETRY_MAX_MS: '200',
  CIRCUIT_OPEN_MS: '200',
  DELIVERY_LINGER_MS: '5',
  DELIVERY_POLL_INTERVAL_MS: '20',
  DELIVERY_REQUEST_TIMEOUT_MS: '1000',
  DELIVERY_LEASE_MS: '3000',
};

async function setup(options: { dcs?: Omit<FakeDcsOptions, 'ims'>; env?: Record<string, string> } = {}) {
  ims = await startFakeIms();
  dcs = await startFakeDcs({ validate: xdmMessageValidator, ...options.dcs, ims });
  t = await buildTestApp(aepEnv(ims, dcs, { ...FAST, ...options.env }));
  return { app: t.app, ims, dcs };
}

const post = (app: TestApp['app'], body: unknown) =>
  app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(body) });

/** Posts one event per id (cycling through the six samples); every one must be accepted. */
async function postEvents(app: TestApp['app'], ids: string[]): Promise<void> {
  const names = Object.keys(SAMPLES);
  const results = await Promise.all(ids.map((id, i) => post(app, sampleWithId(names[i % names.length]!, id))));
  for (const res of results) expect(res.statusCode, res.body).toBe(202);
}

const scrape = async (app: TestApp['app']) => (await app.inject({ method: 'GET', url: '/metrics' })).body;

/** Every id accepted by the fake DCS and the relay's queue empty (profile records included). */
async function waitDelivered(app: TestApp['app'], fake: FakeDcs, ids: string[], timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => ids.every((id) => fake.idCounts.has(id)) && (await app.store.queueStats(Date.now())).pending === 0, {
    timeoutMs,
    what: `${ids.length} events delivered and the queue empty`,
  });
}

const deadLetters = async (app: TestApp['app']) =>
  (await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: adminHeaders })).json() as {
    items: { id: number; eventId: string; kind: string; reason: string; error: string | null; attempts: number; message: unknown }[];
    nextAfter: number | null;
  };

const idsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

describe('AEP delivery end to end', () => {
  it('webhooks in -> valid XDM batches at the DCS, with token, flow id and content type; metrics exposed', async () => {
    const { app, ims, dcs } = await setup();
    const ids = idsOf('e2e', 12);
    await postEvents(app, ids);
    await waitDelivered(app, dcs, ids);

    expect(dcs.requests.length).toBeGreaterThan(0);
    for (const r of dcs.requests) {
      expect(r).toMatchObject({ path: '/collection/batch/test-inlet', batch: true, auth: 'valid', flowId: AEP.flowId, outcome: 207 });
      expect(r.contentType).toMatch(/^application\/json/);
      expect(r.token).toBe(ims.issuedTokens[0]);
    }
    // The fake ran every message through the strict XDM check: none refused.
    expect(dcs.counters.rejected).toBe(0);
    const messages = dcs.accepted.map((a) => a.message as { header: Record<string, unknown> });
    for (const m of messages) {
      expect(m.header).toMatchObject({ flowId: AEP.flowId, imsOrgId: AEP.orgId, source: { name: AEP.sourceName } });
      expect(m.header.schemaRef).toMatchObject({ contentType: XDM_CONTENT_TYPE });
    }
    const events = messages.filter((m) => m.header.datasetId === AEP.event.datasetId);
    const profiles = messages.filter((m) => m.header.datasetId === AEP.profile.datasetId);
    expect(events.map(xdmId).sort()).toEqual([...ids].sort());
    expect(profiles.length).toBeGreaterThan(0);
    expect(dcs.keyCounts.size).toBeGreaterThan(0);
    expect([...dcs.keyCounts].filter(([, n]) => n !== 1)).toEqual([]);
    expect(ims.mints).toBe(1);

    const text = await scrape(app);
    expect(scrapedValue(text, 'relay_aep_requests_total', { status: '207' })).toBe(dcs.requests.length);
    expect(scrapedValue(text, 'relay_ims_token_requests_total', { outcome: 'success' })).toBe(1);
    expect(scrapedValue(text, 'relay_ims_token_expiry_seconds')).toBeGreaterThan(86_000);
    expect(scrapedValue(text, 'relay_ims_token_expiry_seconds')).toBeLessThanOrEqual(86_399);
    expect(scrapedValue(text, 'relay_event_delivery_latency_seconds_count')).toBe(messages.length);
    expect(scrapedValue(text, 'relay_aep_request_duration_seconds_count')).toBe(dcs.requests.length);
    expect(scrapedValue(text, 'relay_messages_delivered_total', { kind: 'event' })).toBe(12);
    expect(scrapedValue(text, 'relay_messages_delivered_total', { kind: 'profile' })).toBe(profiles.length);
    expect(scrapedValue(text, 'relay_aep_circuit_open') ?? 0).toBe(0);
  });

  it('a partial 207: only the failed messages are sent again', async () => {
    const { app, dcs } = await setup({ env: { DELIVERY_LINGER_MS: '50' } });
    // The first batch gets a 207 in which every second message failed with 503.
    dcs.setFault({ kind: 'partial', everyNth: 2 }, { times: 1 });
    const ids = idsOf('partial', 10);
    await postEvents(app, ids);
    await waitDelivered(app, dcs, ids);

    const [first] = dcs.requests;
    const failed = Math.floor(first!.messages / 2);
    expect(failed).toBeGreaterThan(0);
    const sent = dcs.requests.reduce((n, r) => n + r.messages, 0);
    // Everything once, plus the failed ones once more: nothing Adobe took was sent twice.
    expect(sent).toBe(dcs.accepted.length + failed);
    expect(dcs.keyCounts.size).toBeGreaterThan(0);
    expect([...dcs.keyCounts].filter(([, n]) => n !== 1)).toEqual([]);
    expect(await metricValue(app.metrics.registry, 'relay_delivery_retries_total', { reason: 'http_5xx' })).toBe(failed);
    expect((await deadLetters(app)).items).toEqual([]);
  });

  it("an invalid message is dead-lettered with Adobe's message, listed, and replayed by id and then all", async () => {
    const { app, dcs } = await setup();
    const refuse = (m: unknown) => (xdmId(m)?.startsWith('bad-') ? 'Missing required field: _acmecorp.capillary.eventName' : xdmMessageValidator(m));
    dcs.setValidator(refuse);
    await postEvents(app, ['good-1', 'bad-1', 'bad-2']);
    const page = await waitFor(async () => {
      const p = await deadLetters(app);
      return p.items.length === 2 ? p : undefined;
    }, { what: 'two dead letters' });
    for (const [item, eventId] of page.items.map((i) => [i, i.eventId] as const)) {
      expect(['bad-1', 'bad-2']).toContain(eventId);
      expect(item).toMatchObject({ kind: 'event', reason: 'invalid_xdm', attempts: 1 });
      expect(item.error).toContain('Missing required field: _acmecorp.capillary.eventName');
      expect(xdmId(item.message)).toBe(eventId);
    }
    await waitFor(async () => (await app.store.queueStats(Date.now())).pending === 0, { what: 'the rest delivered' });
    expect(dcs.idCounts.get('good-1')).toBe(1);
    const text = await scrape(app);
    expect(scrapedValue(text, 'relay_messages_dead_lettered_total', { reason: 'invalid_xdm' })).toBe(2);
    expect(scrapedValue(text, 'relay_dead_letters')).toBe(2);
    const event = (await app.inject({ method: 'GET', url: '/admin/events/bad-1', headers: adminHeaders })).json() as { state: string; lastError: string };
    expect(event.state).toBe('dead');

    // The schema is fixed in AEP: replay one by id, then the rest.
    dcs.setValidator(xdmMessageValidator);
    const one = page.items.find((i) => i.eventId === 'bad-1')!;
    const byId = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: { ids: [one.id] } });
    expect(byId.json()).toEqual({ requeued: 1 });
    await waitDelivered(app, dcs, ['bad-1']);
    expect((await deadLetters(app)).items.map((i) => i.eventId)).toEqual(['bad-2']);

    const all = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: { all: true } });
    expect(all.json()).toEqual({ requeued: 1 });
    await waitDelivered(app, dcs, ['bad-2']);
    expect((await deadLetters(app)).items).toEqual([]);
    expect(dcs.idCounts.get('good-1')).toBe(1);
    expect(await metricValue(app.metrics.registry, 'relay_messages_delivered_total', { kind: 'event' })).toBe(3);
  });

  it('413: a batch over the inlet limit is split until each part fits; nothing dead-lettered', async () => {
    // An inlet that takes about three messages per request, while the relay batches up to 50.
    const { app, dcs } = await setup({ dcs: { maxBodyBytes: 5_000 }, env: { DELIVERY_LINGER_MS: '50' } });
    const ids = idsOf('split', 12);
    await postEvents(app, ids);
    await waitDelivered(app, dcs, ids);
    expect(dcs.counters.byStatus['413']).toBeGreaterThan(0);
    for (const r of dcs.requests.filter((q) => q.outcome === 207)) expect(r.bytes).toBeLessThanOrEqual(5_000);
    expect(dcs.keyCounts.size).toBeGreaterThan(0);
    expect([...dcs.keyCounts].filter(([, n]) => n !== 1)).toEqual([]);
    expect((await deadLetters(app)).items).toEqual([]);
    expect(await metricValue(app.metrics.registry, 'relay_aep_requests_total', { status: '413' })).toBe(dcs.counters.byStatus['413']);
  });

  it('401 with a string status (revoked token), then 403 (expired): one refresh and one retry each, no delivery retry', async () => {
    const { app, ims, dcs } = await setup();
    await postEvents(app, ['auth-1']);
    await waitDelivered(app, dcs, ['auth-1']);
    expect(ims.mints).toBe(1);

    ims.revokeTokens();
    await postEvents(app, ['auth-2']);
    await waitDelivered(app, dcs, ['auth-2']);
    expect(dcs.counters.byStatus['401']).toBe(1);
    expect(ims.mints).toBe(2);

    ims.expireTokens();
    await postEvents(app, ['auth-3']);
    await waitDelivered(app, dcs, ['auth-3']);
    expect(dcs.counters.byStatus['403']).toBe(1);
    expect(ims.mints).toBe(3);

    // The refusal and the retry happen inside one attempt: no message waited for a retry.
    expect(await metricValue(app.metrics.registry, 'relay_delivery_retries_total')).toBe(0);
    expect(await metricValue(app.metrics.registry, 'relay_ims_token_requests_total', { outcome: 'success' })).toBe(3);
    expect(dcs.keyCounts.size).toBeGreaterThan(0);
    expect([...dcs.keyCounts].filter(([, n]) => n !== 1)).toEqual([]);
  });

  it('429 with Retry-After: every sender holds back that long; nothing lost', async () => {
    // Retry-After is believed up to DELIVERY_RETRY_MAX_MS. One lane, so no request of another lane
    // can be on its way while the 429 is read (the worker test covers the pause across lanes).
    const { app, dcs } = await setup({ env: { DELIVERY_RETRY_MAX_MS: '2000', DELIVERY_CONCURRENCY: '1', DELIVERY_BATCH_MAX_MESSAGES: '4' } });
    // When each request was answered, and how many had arrived when the 429 went out.
    const answered = new Map<DcsRequestRecord, number>();
    let throttled: { at: number; arrivedBefore: number } | undefined;
    dcs.events.on('request', (record: DcsRequestRecord) => {
      answered.set(record, Date.now());
      if (record.outcome === 429) throttled = { at: Date.now(), arrivedBefore: dcs.requests.length };
    });
    dcs.setFault({ kind: 'status', status: 429, retryAfter: '1' }, { times: 1 });
    const ids = idsOf('throttled', 6);
    await postEvents(app, ids);
    await waitDelivered(app, dcs, ids);

    expect(throttled).toBeDefined();
    const later = dcs.requests.slice(throttled!.arrivedBefore);
    expect(later.length).toBeGreaterThan(0);
    // Adobe asked for one second: no request arrived before it was up (a request in flight at the
    // time of the 429 may still be answered; it had arrived before).
    for (const r of later) expect(answered.get(r)! - throttled!.at).toBeGreaterThanOrEqual(1_000);
    expect(await metricValue(app.metrics.registry, 'relay_delivery_retries_total', { reason: 'http_429' })).toBeGreaterThan(0);
    expect(await metricValue(app.metrics.registry, 'relay_aep_requests_total', { status: '429' })).toBe(1);
    expect((await deadLetters(app)).items).toEqual([]);
  });

  it('429 without Retry-After: retried with backoff; nothing lost, nothing twice', async () => {
    const { app, dcs } = await setup();
    dcs.setFault({ kind: 'status', status: 429 }, { times: 4 });
    const ids = idsOf('backoff', 8);
    await postEvents(app, ids);
    await waitDelivered(app, dcs, ids);
    expect(dcs.counters.byStatus['429']).toBe(4);
    expect(await metricValue(app.metrics.registry, 'relay_delivery_retries_total', { reason: 'http_429' })).toBeGreaterThan(0);
    expect(dcs.keyCounts.size).toBeGreaterThan(0);
    expect([...dcs.keyCounts].filter(([, n]) => n !== 1)).toEqual([]);
    expect((await deadLetters(app)).items).toEqual([]);
  });

  it('an outage opens the circuit (relay_aep_circuit_open 1); after restore everything arrives and it closes', async () => {
    const { app, dcs } = await setup({ env: { DELIVERY_BATCH_MAX_MESSAGES: '2' } });
    await dcs.outage();
    const ids = idsOf('outage', 12);
    await postEvents(app, ids);
    await waitFor(async () => scrapedValue(await scrape(app), 'relay_aep_circuit_open') === 1, { what: 'circuit open' });
    const text = await scrape(app);
    expect(scrapedValue(text, 'relay_aep_requests_total', { status: 'network_error' })).toBeGreaterThanOrEqual(10);
    expect(scrapedValue(text, 'relay_delivery_retries_total', { reason: 'network' })).toBeGreaterThan(0);

    await dcs.restore();
    await waitDelivered(app, dcs, ids);
    expect(scrapedValue(await scrape(app), 'relay_aep_circuit_open')).toBe(0);
    expect((await deadLetters(app)).items).toEqual([]);
  });
});

describe('/readyz with AEP', () => {
  it('503 naming the delivery check when IMS rejects the credentials and no token is cached', async () => {
    ims = await startFakeIms();
    dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
    t = await buildTestApp(aepEnv(ims, dcs, { ...FAST, ADOBE_CLIENT_SECRET: 'not-the-secret' }));
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    const body = res.json() as { status: string; mode: string; checks: Record<string, string> };
    expect(body).toMatchObject({ status: 'not_ready', mode: 'aep', checks: { store: 'ok', lifecycle: 'ok' } });
    expect(body.checks['delivery']).toMatch(/^failing: .*IMS_REJECTED/);
    expect(res.body).not.toContain('not-the-secret');
  });

  it('200 with a valid token, and still 200 on a cached token while IMS is down', async () => {
    const { app, ims } = await setup();
    const first = await app.inject({ method: 'GET', url: '/readyz' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'ready', mode: 'aep', checks: { store: 'ok', delivery: 'ok', lifecycle: 'ok' } });
    expect(ims.mints).toBe(1);
    ims.setFailure({ kind: 'status', status: 503 });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect(ims.mints).toBe(1);
  });

  it('200 in dry-run', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', mode: 'dry-run', checks: { delivery: 'ok' } });
  });
});

describe('relay_ims_token_expiry_seconds', () => {
  it('is read when scraped, so it counts down between token requests (an idle relay still shows the truth)', async () => {
    ims = await startFakeIms();
    const dispatcher = createDispatcher();
    const metrics = createMetrics({ defaultMetrics: false });
    let clock = Date.now();
    const provider = createImsTokenProvider({
      imsUrl: ims.urls.v3,
      clientId: ims.clientId,
      clientSecret: ims.clientSecret,
      scopes: 'openid,AdobeID',
      dispatcher,
      logger: pino({ level: 'silent' }),
      metrics,
      now: () => clock,
    });
    try {
      await provider.getToken();
      expect(await metricValue(metrics.registry, 'relay_ims_token_expiry_seconds')).toBeCloseTo(86_399, 0);
      clock += 3_600_000; // an hour without a single delivery
      expect(await metricValue(metrics.registry, 'relay_ims_token_expiry_seconds')).toBeCloseTo(86_399 - 3_600, 0);
      await provider.close();
      expect(await metricValue(metrics.registry, 'relay_ims_token_expiry_seconds')).toBe(0);
    } finally {
      await provider.close();
      await dispatcher.close();
    }
  });
});
