import { afterEach, describe, expect, it } from 'vitest';
import { AEP, aepEnv, xdmId, xdmMessageValidator } from '../helpers/aep-relay.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startFakePlatform, type FakePlatform, type FakeSandbox } from '../helpers/fake-platform.js';
import { metricValue } from '../helpers/metric-values.js';
import { resolvedSchema, wellSetUpSandbox } from '../helpers/platform-sandbox.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The relay end to end with the customer's own sandbox (issue 16): fake IMS, fake DCS and fake
 * Platform API, the real route table, validating sink, delivery worker and admin API.
 */

let t: TestApp | undefined;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;
let platform: FakePlatform | undefined;

afterEach(async () => {
  const logs = t?.logs.text ?? '';
  await t?.close();
  if (ims) for (const token of ims.issuedTokens) expect(logs).not.toContain(token);
  await Promise.all([dcs?.close(), platform?.close(), ims?.close()]);
  t = ims = dcs = platform = undefined;
});

const FAST = { DELIVERY_RETRY_BASE_MS: '10', DELIVERY_RETRY_MAX_MS: '200', DELIVERY_LINGER_MS: '5', DELIVERY_POLL_INTERVAL_MS: '20', DELIVERY_REQUEST_TIMEOUT_MS: '5000', DELIVERY_LEASE_MS: '10000' };

async function setup(prepare: (sandbox: FakeSandbox) => void = () => undefined, env: Record<string, string> = {}) {
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
  const sandbox = wellSetUpSandbox({ inletUrl: dcs.inletUrl() });
  prepare(sandbox);
  platform = await startFakePlatform({ ims, orgId: AEP.orgId, sandboxes: [sandbox] });
  t = await buildTestApp(aepEnv(ims, dcs, { ...FAST, AEP_PLATFORM_URL: platform.origin, AEP_SCHEMA_VALIDATION: 'hold', ...env }));
  return { app: t.app, dcs, platform, sandbox };
}

type App = TestApp['app'];
const post = (app: App, body: unknown) => app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(body) });
const admin = (app: App, method: 'GET' | 'POST', url: string, payload?: unknown) =>
  app.inject({ method, url, headers: { ...adminHeaders, ...(payload ? { 'content-type': 'application/json' } : {}) }, ...(payload ? { payload: JSON.stringify(payload) } : {}) });
const deadLetters = async (app: App) => (await admin(app, 'GET', '/admin/dead-letters')).json() as { items: Array<{ id: number; eventId: string; kind: string; reason: string; error: string | null }> };
const setupCheck = async (app: App) => (await admin(app, 'GET', '/admin/setup-check')).json() as { routes: Array<{ route: string; checks: Array<{ name: string; status: string; detail: string; fix: string }> }> };
const eventsAtDcs = (fake: FakeDcs, id: string) => fake.accepted.filter((m) => xdmId(m.message) === id).length;

describe('an event schema without the tenant field group', () => {
  it('check-setup fails field_coverage naming the path; the event is held as schema_mismatch and never reaches DCS; after a fix, refresh and replay deliver it', async () => {
    const { app, dcs, sandbox } = await setup((s) => {
      s.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    });

    const report = await setupCheck(app);
    const coverage = report.routes[0]!.checks.find((c) => c.name === 'field_coverage')!;
    expect(coverage).toMatchObject({ status: 'fail', detail: expect.stringContaining('the event schema lacks 1 field the mapping writes: _acmecorp') });

    expect((await post(app, sampleWithId('points-issued', 'held-1'))).statusCode).toBe(202);
    const held = await waitFor(async () => (await deadLetters(app)).items.find((d) => d.eventId === 'held-1' && d.kind === 'event'), { what: 'the event held as a dead letter' });
    expect(held.reason).toBe('schema_mismatch');
    expect(held.error).toContain(`does not fit the schema ${AEP.event.schemaId}: /_acmecorp: extraneous key [_acmecorp] is not permitted`);
    // The profile record of the same event fits its schema and goes.
    await waitFor(() => dcs.accepted.some((m) => (m.message as { header?: { datasetId?: string } }).header?.datasetId === AEP.profile.datasetId), { what: 'the profile record delivered' });
    expect(eventsAtDcs(dcs, 'held-1')).toBe(0);
    expect(await metricValue(app.metrics.registry, 'relay_schema_mismatches_total', { route: 'default', kind: 'event', action: 'held' })).toBe(1);
    expect(await metricValue(app.metrics.registry, 'relay_messages_dead_lettered_total', { reason: 'schema_mismatch' })).toBe(1);
    expect(await metricValue(app.metrics.registry, 'relay_schema_source', { route: 'default', kind: 'event' })).toBe(1);

    // The customer adds the field group; the relay reads the schema again; the dead letter is replayed.
    sandbox.schemas = [resolvedSchema('event'), resolvedSchema('profile')];
    const refreshed = (await admin(app, 'POST', '/admin/schemas/refresh')).json() as { routes: Array<{ schemas: Array<{ kind: string; source: string; lastError: string | null }> }> };
    expect(refreshed.routes[0]!.schemas).toMatchObject([{ kind: 'event', source: 'customer', lastError: null }, { kind: 'profile', source: 'customer' }]);
    expect((await admin(app, 'POST', '/admin/dead-letters/replay', { all: true })).json()).toEqual({ requeued: 1 });
    await waitFor(() => eventsAtDcs(dcs, 'held-1') === 1, { what: 'the replayed event at DCS' });
    expect((await deadLetters(app)).items).toEqual([]);
    expect((await setupCheck(app)).routes[0]!.checks.every((c) => c.status === 'ok')).toBe(true);
  });
});

describe('a sandbox set up right', () => {
  it('every check is ok and every message is delivered, none held', async () => {
    const { app, dcs } = await setup();
    const report = await setupCheck(app);
    expect(report.routes[0]!.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    const names = Object.keys(SAMPLES);
    for (const [i, name] of names.entries()) expect((await post(app, sampleWithId(name, `ok-${i}`))).statusCode).toBe(202);
    await waitFor(async () => names.every((_, i) => eventsAtDcs(dcs, `ok-${i}`) === 1) && (await app.store.queueStats(Date.now())).pending === 0, { what: 'all delivered' });
    expect((await deadLetters(app)).items).toEqual([]);
    expect(await metricValue(app.metrics.registry, 'relay_schema_mismatches_total')).toBe(0);
  });
});

describe("when the customer's schema cannot be read", () => {
  it('no permission (403): the standard schemas hold, the gauge and setup check say so, delivery goes on', async () => {
    const { dcs, platform } = await setup();
    await t!.close();
    platform.setFault('/schemaregistry/', { kind: 'status', status: 403, errorCode: '403000', message: 'no View Schemas' });
    t = await buildTestApp(aepEnv(ims!, dcs, { ...FAST, AEP_PLATFORM_URL: platform.origin, AEP_SCHEMA_VALIDATION: 'hold' }));
    expect((await post(t.app, sampleWithId('points-issued', 'fallback-1'))).statusCode).toBe(202);
    await waitFor(() => eventsAtDcs(dcs, 'fallback-1') === 1, { what: 'delivered with the standard schemas' });
    expect(await metricValue(t.app.metrics.registry, 'relay_schema_source', { route: 'default', kind: 'event' })).toBe(0);
    expect(t.logs.text).toContain("cannot read the customer's schema: messages are held to the standard XDM schema");
    const validation = (await setupCheck(t.app)).routes[0]!.checks.find((c) => c.name === 'schema_validation')!;
    expect(validation).toMatchObject({ status: 'warn', detail: expect.stringContaining('standard XDM schemas') });
  });

  it('Platform down after a good read: the schema read before stays in force, and delivery is never blocked', async () => {
    const { app, dcs, platform } = await setup((s) => {
      s.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    });
    await waitFor(async () => (await metricValue(app.metrics.registry, 'relay_schema_source')) === 2, { what: "the customer's schemas read" });
    await platform.outage();
    const refreshed = (await admin(app, 'POST', '/admin/schemas/refresh')).json() as { routes: Array<{ schemas: Array<{ source: string; lastError: string | null }> }> };
    expect(refreshed.routes[0]!.schemas[0]).toMatchObject({ source: 'customer', lastError: expect.stringContaining('network error') });
    // Still held to the customer's schema (not loosened by the outage), and the rest still flows.
    expect((await post(app, sampleWithId('points-issued', 'outage-1'))).statusCode).toBe(202);
    await waitFor(async () => (await deadLetters(app)).items.some((d) => d.eventId === 'outage-1' && d.reason === 'schema_mismatch'), { what: 'held during the outage' });
    await waitFor(() => dcs.accepted.some((m) => (m.message as { header?: { datasetId?: string } }).header?.datasetId === AEP.profile.datasetId), { what: 'the profile record delivered' });
    await platform.restore();
  });
});

describe('AEP_SCHEMA_VALIDATION=warn', () => {
  it('sends the message that does not fit, and counts it', async () => {
    const { app, dcs } = await setup((s) => {
      s.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    }, { AEP_SCHEMA_VALIDATION: 'warn' });
    expect((await post(app, sampleWithId('points-issued', 'warn-1'))).statusCode).toBe(202);
    await waitFor(() => eventsAtDcs(dcs, 'warn-1') === 1, { what: 'sent anyway' });
    expect(await metricValue(app.metrics.registry, 'relay_schema_mismatches_total', { kind: 'event', action: 'sent' })).toBe(1);
    expect((await deadLetters(app)).items).toEqual([]);
  });
});
