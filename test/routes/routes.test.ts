import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { loadSample } from '../helpers/capillary-fixtures.js';
import { startFakeDcs, type FakeDcs } from '../helpers/fake-dcs.js';
import { startFakeIms, type FakeIms } from '../helpers/fake-ims.js';
import { metricValue, scrapedValue } from '../helpers/metric-values.js';

const SECRET_A = 'brand-a-webhook-secret-0001';
const SECRET_B = 'brand-b-webhook-secret-0002';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Two brands, each with its own fake Adobe (IMS and DCS) and credentials. */
interface Brand {
  ims: FakeIms;
  dcs: FakeDcs;
}

async function startBrand(name: string): Promise<Brand> {
  const ims = await startFakeIms({ clientId: `${name}-client`, clientSecret: `${name}-adobe-secret-xyz` });
  const dcs = await startFakeDcs({ ims });
  return { ims, dcs };
}

function routesYaml(dir: string, a: Brand, b: Brand, orgsA: string): string {
  writeFileSync(join(dir, 'a-webhook'), `${SECRET_A}\n`);
  writeFileSync(join(dir, 'b-webhook'), `${SECRET_B}\n`);
  writeFileSync(join(dir, 'a-adobe'), a.ims.clientSecret);
  return `routes:
  brand-a:
    CAPILLARY_ORG_IDS: "${orgsA}"
    CAPILLARY_AUTH_SECRETS_FILE: ${join(dir, 'a-webhook')}
    ADOBE_CLIENT_ID: ${a.ims.clientId}
    ADOBE_CLIENT_SECRET_FILE: ${join(dir, 'a-adobe')}
    ADOBE_IMS_URL: ${a.ims.urls.v3}
    AEP_INLET_URL: ${a.dcs.inletUrl('inlet-a')}
    AEP_FLOW_ID: flow-a
    AEP_EVENT_DATASET_ID: dataset-a
    AEP_EVENT_SCHEMA_ID: https://ns.adobe.com/a/schemas/event
  brand-b:
    CAPILLARY_ORG_IDS: 50614
    CAPILLARY_AUTH_SECRETS_FILE: ${join(dir, 'b-webhook')}
    ADOBE_CLIENT_ID: ${b.ims.clientId}
    ADOBE_CLIENT_SECRET_ENV: BRAND_B_ADOBE_SECRET
    ADOBE_IMS_URL: ${b.ims.urls.v3}
    AEP_OUTPUT: source
    AEP_SOURCE_PROFILE_INLET_URL: ${b.dcs.inletUrl('profile-inlet-b')}
    AEP_SOURCE_PROFILE_FLOW_ID: profile-flow-b
    AEP_SOURCE_TRANSACTION_INLET_URL: ${b.dcs.inletUrl('transaction-inlet-b')}
    AEP_SOURCE_TRANSACTION_FLOW_ID: transaction-flow-b
`;
}

describe('routes: several brands, one relay', () => {
  let a: Brand;
  let b: Brand;
  let t: TestApp;
  let file: string;

  beforeEach(async () => {
    a = await startBrand('brand-a');
    b = await startBrand('brand-b');
    process.env['BRAND_B_ADOBE_SECRET'] = b.ims.clientSecret;
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'relay-routes-'));
    file = join(dir, 'routes.yaml');
    // brand-a is first configured with the wrong org (1231 is its transaction sample's org).
    writeFileSync(file, routesYaml(dir, a, b, '51186'));
    t = await buildTestApp({ CAPILLARY_AUTH_SECRETS: '', DRY_RUN_FILE: '', ROUTES_FILE: file, BRAND_B_ADOBE_SECRET: b.ims.clientSecret, DELIVERY_RETRY_BASE_MS: '10' });
  });

  afterEach(async () => {
    await t.close();
    for (const brand of [a, b]) {
      await brand.dcs.close();
      await brand.ims.close();
    }
  });

  const post = (route: string, secret: string, body: unknown) =>
    t.app.inject({ method: 'POST', url: `/webhooks/capillary/${route}`, headers: { authorization: secret, 'content-type': 'application/json' }, payload: body as object });

  it("each brand's events reach only its own Adobe, with its own token; another route's secret is 401", async () => {
    expect((await post('brand-a', SECRET_A, loadSample('points-issued'))).statusCode).toBe(202);
    expect((await post('brand-b', SECRET_B, loadSample('tier-upgraded'))).statusCode).toBe(202);
    expect((await post('brand-a', SECRET_B, loadSample('points-issued'))).statusCode).toBe(401);
    expect((await post('brand-c', SECRET_A, loadSample('points-issued'))).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: { authorization: SECRET_A, 'content-type': 'application/json' }, payload: loadSample('points-issued') })).statusCode).toBe(404);

    await a.dcs.waitFor((d) => d.counters.accepted >= 1);
    await b.dcs.waitFor((d) => d.counters.accepted >= 1);
    // A's XDM batch to its inlet with its token and flow; B's source profile payload to its profile dataflow.
    expect(a.dcs.requests.map((r) => ({ inlet: r.inletId, batch: r.batch, auth: r.auth, flow: r.flowId }))).toEqual([{ inlet: 'inlet-a', batch: true, auth: 'valid', flow: 'flow-a' }]);
    expect(a.ims.issuedTokens).toContain(a.dcs.requests[0]!.token);
    expect(b.dcs.requests.map((r) => ({ inlet: r.inletId, batch: r.batch, auth: r.auth, flow: r.flowId }))).toEqual([{ inlet: 'profile-inlet-b', batch: false, auth: 'valid', flow: 'profile-flow-b' }]);
    expect(b.ims.issuedTokens).toContain(b.dcs.requests[0]!.token);
    expect(b.dcs.accepted[0]!.message).toMatchObject({ identityMap: { email: [{ id: 'member.one@example.com' }] }, loyalty: { tier: 'Gold', program: 'MainProgram' } });
    // Counted once settled, just after Adobe's answer.
    await vi.waitFor(async () => expect(await metricValue(t.app.metrics.registry, 'relay_messages_delivered_total', { route: 'brand-a' })).toBe(1));
    await vi.waitFor(async () => expect(await metricValue(t.app.metrics.registry, 'relay_messages_delivered_total', { route: 'brand-b' })).toBe(1));
  });

  it('a wrong-org event is held, never sent; a reload that fixes the file and a replay release it', async () => {
    // Each route's held series exists at 0 before anything is held (the alert's increase() needs it).
    const scrape = async () => (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(scrapedValue(await scrape(), 'relay_events_held_total', { route: 'brand-a' })).toBe(0);
    const transaction = loadSample('transaction-added'); // org 1231, not listed by brand-a yet
    expect((await post('brand-a', SECRET_A, transaction)).statusCode).toBe(202);
    const eventId = String(transaction['eventId']);
    const held = await t.app.inject({ method: 'GET', url: `/admin/events/${eventId}`, headers: admin });
    expect(held.json()).toMatchObject({ state: 'held', route: 'brand-a', messages: [] });
    expect(await metricValue(t.app.metrics.registry, 'relay_events_held_total', { route: 'brand-a' })).toBe(1);
    expect(scrapedValue(await scrape(), 'relay_events_held_total', { route: 'brand-b' })).toBe(0);
    const search = (query: string) => t.app.inject({ method: 'GET', url: `/admin/events?${query}`, headers: admin });
    expect((await search('state=held&route=brand-a')).json().items.map((e: { eventId: string }) => e.eventId)).toEqual([eventId]);
    expect((await search('state=held&route=brand-b')).json().items).toEqual([]);
    const preview = (id: string) => t.app.inject({ method: 'POST', url: `/admin/events/${id}/preview`, headers: admin });
    expect((await preview(eventId)).json()).toMatchObject({ status: 'held', messages: [] });
    const stillHeld = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: admin, payload: { state: 'held' } });
    expect(stillHeld.json()).toMatchObject({ examined: 1, requeued: 0, stillHeld: 1 });

    // A broken file is refused: the routes in force stay.
    const good = (await import('node:fs')).readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('CAPILLARY_ORG_IDS: "51186"', 'CAPILLARY_ORG_IDS: "not-a-number"'));
    const refused = await t.app.inject({ method: 'POST', url: '/admin/routes/reload', headers: admin });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().message).toContain('routes.brand-a.CAPILLARY_ORG_IDS');
    expect(t.logs.text).toContain('routes file refused');
    expect((await post('brand-a', SECRET_A, loadSample('points-issued'))).statusCode).toBe(202);
    await a.dcs.waitFor((d) => d.counters.accepted >= 1);

    writeFileSync(file, good.replace('CAPILLARY_ORG_IDS: "51186"', 'CAPILLARY_ORG_IDS: "51186,1231"'));
    const reloaded = await t.app.inject({ method: 'POST', url: '/admin/routes/reload', headers: admin });
    expect(reloaded.json()).toEqual({ added: [], removed: [], changed: ['brand-a'], kept: ['brand-b'] });
    expect((await preview(eventId)).json()).toMatchObject({ status: 'mapped', messages: [{ kind: 'event' }] });
    const released = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: admin, payload: { state: 'held', route: 'brand-a' } });
    expect(released.json()).toMatchObject({ examined: 1, requeued: 1 });
    await a.dcs.waitFor((d) => d.accepted.some((m) => m.id === eventId));
    // Never anywhere else.
    expect(b.dcs.counters.requests).toBe(0);
  });

  it('source sends the transaction payload to its own dataflow', async () => {
    const transaction = { ...loadSample('transaction-added'), orgId: 50614 };
    expect((await post('brand-b', SECRET_B, transaction)).statusCode).toBe(202);
    await b.dcs.waitFor((d) => d.counters.accepted >= 1);
    expect(b.dcs.requests[0]).toMatchObject({ inletId: 'transaction-inlet-b', flowId: 'transaction-flow-b', batch: false });
    expect(Object.keys(b.dcs.accepted[0]!.message as object).sort()).toEqual(['_id', 'commerce', 'identityMap', 'productLineItems', 'timestamp']);
    // The console's preview maps by the event's own route: the source payload, not XDM.
    const preview = await t.app.inject({ method: 'POST', url: `/admin/events/${String((transaction as Record<string, unknown>)['eventId'])}/preview`, headers: admin });
    expect(preview.json().messages.map((m: { message: object }) => Object.keys(m.message).sort())).toEqual([['_id', 'commerce', 'identityMap', 'productLineItems', 'timestamp']]);
  });
});
