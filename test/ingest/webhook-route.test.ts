import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminHeaders, authHeaders, buildTestApp, TEST_SECRET, type TestApp } from '../helpers/build-app.js';
import { inEnvelope, SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const post = (app: TestApp['app'], body: unknown, headers: Record<string, string> = authHeaders) =>
  app.inject({ method: 'POST', url: '/webhooks/capillary', headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });

const dryRunLines = (dir: string) => {
  try {
    return readFileSync(join(dir, 'dry-run.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { body: { xdmEntity: { _id?: string } } });
  } catch {
    return [];
  }
};

// Read from the registry, not GET /metrics: on one listener /metrics counts against the rate limit too.
const metricValue = async (app: TestApp['app'], outcome: string) => {
  const text = await app.metrics.registry.getSingleMetricAsString('relay_webhooks_received_total');
  const line = text.split('\n').find((l) => l.startsWith('relay_webhooks_received_total{') && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('POST /webhooks/capillary', () => {
  it('accepts each shared sample with 202, and each reaches the dry-run file exactly once', async () => {
    t = await buildTestApp();
    const names = Object.keys(SAMPLES);
    expect(names).toHaveLength(6);
    for (const name of names) {
      const res = await post(t.app, SAMPLES[name]);
      expect(res.statusCode, name).toBe(202);
      expect(res.json()).toEqual({ eventId: SAMPLES[name]!['eventId'], status: 'accepted' });
    }
    const dir = t.dir;
    const lines = await waitFor(() => {
      const l = dryRunLines(dir);
      return l.length >= 6 ? l : undefined;
    }, { what: 'six dry-run lines' });
    const ids = lines.map((l) => l.body.xdmEntity._id).filter(Boolean).sort();
    expect(ids).toEqual(names.map((n) => String(SAMPLES[n]!['eventId'])).sort());
  });

  it('answers duplicate for a redelivered eventId and queues nothing new', async () => {
    t = await buildTestApp();
    const body = sampleWithId('points-issued', 'dup-1');
    expect((await post(t.app, body)).json()).toEqual({ eventId: 'dup-1', status: 'accepted' });
    const again = await post(t.app, body);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ eventId: 'dup-1', status: 'duplicate' });
    const view = (await t.app.inject({ method: 'GET', url: '/admin/events/dup-1', headers: adminHeaders })).json();
    expect(view.messages).toHaveLength(1);
    expect(await metricValue(t.app, 'duplicate')).toBe(1);
  });

  it.each(['flat', 'wrapped', 'internal'] as const)('accepts the %s envelope and reads the same event from it', async (shape) => {
    t = await buildTestApp();
    const flat = sampleWithId('tier-upgraded', `env-${shape}`);
    const res = await post(t.app, inEnvelope(flat, shape));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ eventId: `env-${shape}`, status: 'accepted' });
    const view = (await t.app.inject({ method: 'GET', url: `/admin/events/env-${shape}`, headers: adminHeaders })).json();
    expect(view).toMatchObject({ eventName: 'tierUpgraded', envelope: shape, createdAt: 1619517441506, mappingStatus: 'mapped' });
    expect(view.messages[0].message.body.xdmEntity).toMatchObject({ _id: `env-${shape}`, timestamp: '2021-04-27T09:57:21.506Z', eventType: 'loyalty.tierUpgraded' });
  });

  it('reads integers written as floats and blank strings without refusing the event', async () => {
    t = await buildTestApp();
    const body: Record<string, unknown> = { ...sampleWithId('points-issued', 'float-1'), createdAt: 1720440349027.0, orgId: 51186.0 };
    (body['data'] as Record<string, unknown>)['customerIdentifiers'] = { customerId: 387979001.0, instore: { email: ' ', mobile: '' } };
    const raw = JSON.stringify(body).replace('"createdAt":1720440349027', '"createdAt":1720440349027.0');
    const res = await post(t.app, raw);
    expect(res.statusCode).toBe(202);
    const view = (await t.app.inject({ method: 'GET', url: '/admin/events/float-1', headers: adminHeaders })).json();
    expect(view.createdAt).toBe(1720440349027);
    expect(view.messages[0].message.body.xdmEntity.identityMap).toEqual({ CapillaryId: [{ id: '387979001', authenticatedState: 'authenticated', primary: true }] });
  });

  it('accepts and keeps an event name it has no mapping for, visible in the admin API', async () => {
    t = await buildTestApp();
    const res = await post(t.app, { ...sampleWithId('points-issued', 'new-name-1'), eventName: 'streakCompleted' });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe('accepted');
    const view = (await t.app.inject({ method: 'GET', url: '/admin/events/new-name-1', headers: adminHeaders })).json();
    expect(view).toMatchObject({ eventId: 'new-name-1', eventName: 'streakCompleted', state: 'unmapped', mappingStatus: 'unmapped', messages: [] });
  });

  it('answers 401 with a JSON error for a missing or wrong auth header, and never echoes it', async () => {
    t = await buildTestApp();
    const missing = await post(t.app, SAMPLES['points-issued'], { 'content-type': 'application/json' });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
    const wrong = await post(t.app, SAMPLES['points-issued'], { authorization: 'nope-wrong-value', 'content-type': 'application/json' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('nope-wrong-value');
    expect(wrong.body).not.toContain(TEST_SECRET);
    expect(await metricValue(t.app, 'unauthorized')).toBe(2);
  });

  it('accepts every configured secret (rotation) on a custom header', async () => {
    t = await buildTestApp({ CAPILLARY_AUTH_HEADER: 'X-Capillary-Token', CAPILLARY_AUTH_SECRETS: 'old-secret-0123456789, new-secret-0123456789' });
    const headers = (value: string) => ({ 'x-capillary-token': value, 'content-type': 'application/json' });
    expect((await post(t.app, sampleWithId('points-issued', 'rot-1'), headers('old-secret-0123456789'))).statusCode).toBe(202);
    expect((await post(t.app, sampleWithId('points-issued', 'rot-2'), headers('new-secret-0123456789'))).statusCode).toBe(202);
    expect((await post(t.app, sampleWithId('points-issued', 'rot-3'), headers('other'))).statusCode).toBe(401);
    expect((await post(t.app, sampleWithId('points-issued', 'rot-4'), { authorization: 'new-secret', 'content-type': 'application/json' })).statusCode).toBe(401);
  });

  it('answers 400 for a truncated JSON body', async () => {
    t = await buildTestApp();
    const text = JSON.stringify(SAMPLES['points-issued']);
    const res = await post(t.app, text.slice(0, text.length / 2));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_json', message: expect.any(String) });
  });

  it.each([
    ['an object with no eventId', { eventName: 'pointsIssued', data: {} }],
    ['a blank eventId', { eventId: '   ', eventName: 'pointsIssued' }],
    ['an array', [1, 2, 3]],
    ['a JSON string', 'not an event'],
    ['null', null],
  ])('answers 400 no_event_id for %s', async (_label, body) => {
    t = await buildTestApp();
    const res = await post(t.app, JSON.stringify(body));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('no_event_id');
  });

  it('answers 415 for a body that is not JSON', async () => {
    t = await buildTestApp();
    const res = await post(t.app, 'eventId=1', { authorization: TEST_SECRET, 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe('unsupported_media_type');
  });

  it('accepts a 900 KB event and answers 413 for a 3 MB body', async () => {
    t = await buildTestApp();
    const big = sampleWithId('transaction-added', 'big-1');
    (big['data'] as Record<string, unknown>)['notes'] = 'x'.repeat(900 * 1024);
    const ok = await post(t.app, big);
    expect(ok.statusCode).toBe(202);
    const huge = sampleWithId('transaction-added', 'huge-1');
    (huge['data'] as Record<string, unknown>)['notes'] = 'x'.repeat(3 * 1024 * 1024);
    const tooLarge = await post(t.app, huge);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().error).toBe('body_too_large');
  });

  it('answers 429 with Retry-After when a source exceeds the rate limit', async () => {
    t = await buildTestApp({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    expect((await post(t.app, sampleWithId('points-issued', 'rl-1'))).statusCode).toBe(202);
    expect((await post(t.app, sampleWithId('points-issued', 'rl-2'))).statusCode).toBe(202);
    const limited = await post(t.app, sampleWithId('points-issued', 'rl-3'));
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(await metricValue(t.app, 'rate_limited')).toBe(1);
  });

  it('answers 503 with Retry-After when the store cannot commit, never 400', async () => {
    t = await buildTestApp();
    await t.app.store.close();
    const res = await post(t.app, sampleWithId('points-issued', 'down-1'));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json()).toEqual({ error: 'store_unavailable', message: expect.any(String) });
    expect(await metricValue(t.app, 'unavailable')).toBe(1);
  });

  it('answers 403 to a source outside WEBHOOK_ALLOWED_CIDRS', async () => {
    t = await buildTestApp({ WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8' });
    const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(SAMPLES['points-issued']), remoteAddress: '192.0.2.10' });
    expect(res.statusCode).toBe(403);
    const inside = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(SAMPLES['points-issued']), remoteAddress: '10.1.2.3' });
    expect(inside.statusCode).toBe(202);
  });

  it('counts accepted webhooks by known event name, and unknown names as other', async () => {
    t = await buildTestApp();
    await post(t.app, sampleWithId('points-issued', 'm-1'));
    await post(t.app, { ...sampleWithId('points-issued', 'm-2'), eventName: 'somethingNew' });
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('relay_webhooks_received_total{event_name="pointsIssued",outcome="accepted"} 1');
    expect(text).toContain('relay_webhooks_received_total{event_name="other",outcome="accepted"} 1');
  });

  // A program whose events carry no identity warns on every one of them: at webhook rates one line
  // per event name a minute, with the count left out, and the metric counting each event.
  it('writes the no-identity warning once per event name a minute, with the count it left out', async () => {
    let clock = Date.parse('2026-12-07T10:00:00Z');
    t = await buildTestApp({}, { now: () => clock });
    const noIdentity = (n: number) => ({ eventName: 'cardUpdated', eventId: `card-${n}`, createdAt: clock, data: { card: { number: `c${n}`, status: 'ACTIVE' } } });
    const warnings = () => t!.logs.lines.map((l) => JSON.parse(l) as { msg: string; suppressed?: number; eventId?: string }).filter((l) => l.msg.startsWith('event has no identity'));
    for (let n = 1; n <= 5; n += 1) expect((await post(t.app, noIdentity(n))).statusCode).toBe(202);
    expect(warnings()).toEqual([expect.objectContaining({ eventId: 'card-1', suppressed: 0 })]);
    clock += 59_999;
    await post(t.app, noIdentity(6));
    expect(warnings()).toHaveLength(1);
    clock += 1;
    await post(t.app, noIdentity(7));
    expect(warnings().map((w) => [w.eventId, w.suppressed])).toEqual([['card-1', 0], ['card-7', 5]]);
    const mapped = await t.app.metrics.registry.getSingleMetricAsString('relay_events_mapped_total');
    expect(mapped).toMatch(/relay_events_mapped_total\{status="mapped",warning="no_identity"\} 7/);
  });
});
