import { afterEach, describe, expect, it } from 'vitest';
import type { AccountingReport, AccountingWindow } from '../../src/http/accounting-schemas.js';
import { AEP } from '../helpers/aep-relay.js';
import { acceptedIn, addFailedBatch, DAY, noonClock, setLanded, startAccountingWorld, type AccountingWorld } from '../helpers/accounting-world.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { metricValue } from '../helpers/metric-values.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Accounting when a source misbehaves or is missing (issue 17): a refusal (403) shows as
 * source_unavailable while the other columns still show; tokens that expire mid-run are replaced;
 * a route without Capillary settings has no Capillary column and says why, and without Adobe is
 * judged by the hour; Adobe landing less than the relay delivered is landed_short.
 */
let world: AccountingWorld | undefined;
let t: TestApp | undefined;
const now = noonClock();
const today = () => Math.floor(now() / DAY) * DAY;

afterEach(async () => {
  await t?.close();
  await world?.close();
  t = world = undefined;
});

async function relayWithEvents(env: Record<string, string>, count = 3): Promise<TestApp> {
  const app = await buildTestApp(env, { now });
  for (let i = 0; i < count; i += 1) {
    const res = await app.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId('points-issued', `src-${i}`)) });
    expect(res.statusCode).toBe(202);
  }
  await waitFor(async () => (await app.app.store.queueStats(now())).pending === 0, { what: 'every message delivered' });
  return app;
}

async function runAndRead(app: TestApp, body?: object): Promise<AccountingReport> {
  const res = await app.app.inject({ method: 'POST', url: '/admin/accounting/run', headers: adminHeaders, ...(body ? { payload: body } : {}) });
  expect(res.statusCode, res.body).toBe(200);
  return (await app.app.inject({ method: 'GET', url: '/admin/accounting', headers: adminHeaders })).json<AccountingReport>();
}

const windowOf = (report: AccountingReport, from: number): AccountingWindow => {
  const window = report.routes[0]!.windows.find((w) => w.from === from);
  if (!window) throw new Error(`no window from ${from}`);
  return window;
};

describe('accounting with sources that fail or are missing', () => {
  it("Adobe refuses (403): source_unavailable naming Adobe's code; Capillary and the relay still show", async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env);
    world.platform.setFault('/catalog/batches', { kind: 'status', status: 403, errorCode: '403027', message: 'User region is missing' });
    world.capillary.deliveries.push({ eventId: 'src-0', eventName: 'pointsIssued', status: 'DELIVERED', eventTime: now() });
    const window = windowOf(await runAndRead(t), today());
    expect(window.findings.map((f) => f.kind)).toEqual(['source_unavailable']);
    expect(window.findings[0]!.detail).toMatch(/^Adobe: PLATFORM_FORBIDDEN: .*HTTP 403 403027/);
    expect(window.adobe).toMatchObject({ status: 'unavailable', error: expect.stringContaining('403027') });
    expect(window.capillary).toMatchObject({ status: 'ok', total: 1 });
    expect(window.relay).toMatchObject({ accepted: 3 });
    const registry = t.app.metrics.registry;
    expect(await metricValue(registry, 'relay_accounting_findings', { route: 'default', kind: 'source_unavailable' })).toBeGreaterThan(0);
    // Tried and never read: 0, so RelayAccountingStale fires; Capillary was read.
    expect(await metricValue(registry, 'relay_accounting_last_success_timestamp_seconds', { route: 'default', source: 'adobe' })).toBe(0);
    expect(await metricValue(registry, 'relay_accounting_last_success_timestamp_seconds', { route: 'default', source: 'capillary' })).toBeGreaterThan(0);
  });

  it('Capillary refuses (403): its column says why, Adobe and the relay still show', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env);
    world.capillary.setFault('/metrics', { kind: 'status', status: 403, body: { errors: [{ code: 403, message: 'No read permission on resource group' }] } });
    setLanded(world.platform, AEP.event.datasetId, today(), acceptedIn(world.dcs, AEP.event.datasetId).length);
    setLanded(world.platform, AEP.profile.datasetId, today(), acceptedIn(world.dcs, AEP.profile.datasetId).length);
    const window = windowOf(await runAndRead(t), today());
    expect(window.capillary).toMatchObject({ status: 'unavailable', error: expect.stringContaining('CAPILLARY_FORBIDDEN'), total: null });
    expect(window.adobe).toMatchObject({ status: 'ok' });
    expect(window.findings).toEqual([{ kind: 'source_unavailable', count: 1, detail: expect.stringContaining('No read permission') }]);
  });

  it('tokens that expire mid-run (Capillary and IMS) are replaced, and the run reads every window', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env);
    const w = world;
    // Both sides' tokens stop working after the third window's Capillary call.
    w.capillary.events.on('request', (r: { path: string }) => {
      if (r.path.endsWith('/metrics') && w.capillary.requests.filter((q) => q.path.endsWith('/metrics')).length === 3) {
        w.capillary.expireTokens();
        w.ims.revokeTokens();
      }
    });
    const report = await runAndRead(t);
    const windows = report.routes[0]!.windows;
    expect(windows).toHaveLength(8);
    expect(windows.flatMap((x) => x.findings.filter((f) => f.kind === 'source_unavailable'))).toEqual([]);
    expect(windows.every((x) => x.capillary?.status === 'ok' && x.adobe?.status === 'ok')).toBe(true);
    expect(w.capillary.mints).toBe(2);
    expect(w.capillary.requests.filter((r) => r.outcome === 401)).toHaveLength(1);
    expect(w.platform.requests.filter((r) => r.outcome === 401)).toHaveLength(1);
  });

  it('Adobe counts fewer records landed than the relay delivered, beyond its failed records: landed_short', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env);
    const events = acceptedIn(world.dcs, AEP.event.datasetId).length;
    setLanded(world.platform, AEP.event.datasetId, today(), events - 2);
    setLanded(world.platform, AEP.profile.datasetId, today(), acceptedIn(world.dcs, AEP.profile.datasetId).length);
    const window = windowOf(await runAndRead(t), today());
    expect(window.findings).toEqual([{ kind: 'landed_short', count: 2, detail: `dataset ${AEP.event.datasetId}: Adobe acknowledged ${events}, failed 0, counts ${events - 2} landed: 2 unaccounted for` }]);
  });

  it('a failed profile record carrying its event id in the tenant fields becomes that event\'s dead letter', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env);
    const [profile] = acceptedIn(world.dcs, AEP.profile.datasetId) as Array<{ body: { xdmEntity: Record<string, unknown> } }>;
    const entity = profile!.body.xdmEntity;
    const eventId = ((entity[`_${AEP.tenant}`] as { capillary: { eventId: string } }).capillary).eventId;
    addFailedBatch(world.platform, { id: 'profile-batch', dataset: AEP.profile.datasetId, created: now() - 60_000, completed: now(), records: [entity] });
    const window = windowOf(await runAndRead(t), today());
    expect(window.findings.find((f) => f.kind === 'rejected_after_acceptance')).toMatchObject({ count: 1, events: [{ eventId }] });
    const view = (await t.app.inject({ method: 'GET', url: `/admin/events/${eventId}`, headers: adminHeaders })).json<{ messages: Array<{ kind: string; state: string; deadReason: string | null }> }>();
    expect(view.messages.map((m) => [m.kind, m.state, m.deadReason])).toEqual([
      ['event', 'delivered', null],
      ['profile', 'dead', 'rejected_after_acceptance'],
    ]);
  });

  it('a failed profile record without tenant fields: matched by its member when certain, else counted only', async () => {
    const withoutTenant = (entity: Record<string, unknown>) => Object.fromEntries(Object.entries(entity).filter(([key]) => key !== `_${AEP.tenant}`));
    const profiles = () => acceptedIn(world!.dcs, AEP.profile.datasetId) as Array<{ body: { xdmEntity: Record<string, unknown> } }>;
    // One event of the member in the window: its only profile record is the one.
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env, 1);
    addFailedBatch(world.platform, { id: 'one', dataset: AEP.profile.datasetId, created: now() - 60_000, completed: now(), records: [withoutTenant(profiles()[0]!.body.xdmEntity)] });
    let window = windowOf(await runAndRead(t), today());
    expect(window.findings.find((f) => f.kind === 'rejected_after_acceptance')).toMatchObject({ count: 1, events: [{ eventId: 'src-0', messageId: expect.any(Number) }] });
    await t.close();
    await world.close();

    // Three events of the same member: which record failed cannot be told; it is counted, nothing moved.
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env, 3);
    addFailedBatch(world.platform, { id: 'three', dataset: AEP.profile.datasetId, created: now() - 60_000, completed: now(), records: [withoutTenant(profiles()[0]!.body.xdmEntity)] });
    window = windowOf(await runAndRead(t), today());
    const finding = window.findings.find((f) => f.kind === 'rejected_after_acceptance');
    expect(finding).toMatchObject({ count: 1, events: [{ eventId: null }] });
    expect(finding!.detail).toContain('1 not matched to an event with certainty');
    expect((await t.app.inject({ method: 'GET', url: '/admin/dead-letters', headers: adminHeaders })).json().items).toEqual([]);
  });

  it('without Capillary settings there is no Capillary column, and the route says why', async () => {
    world = await startAccountingWorld();
    const { CAPILLARY_API_URL: _u, CAPILLARY_API_KEY: _k, CAPILLARY_API_SECRET: _s, CAPILLARY_CONSUMER_GROUP_ID: _c, ...env } = world.env;
    t = await relayWithEvents(env, 1);
    const report = await runAndRead(t);
    expect(report.routes[0]!.absent).toEqual({ capillary: expect.stringContaining('CAPILLARY_API_URL') });
    expect(windowOf(report, today()).capillary).toBeNull();
    expect(world.capillary.requests).toEqual([]);
  });

  it('in dry-run (no Adobe) the windows are hours, Adobe is absent and says why', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents({ ACCOUNTING_LAG_MINUTES: '0', ACCOUNTING_INTERVAL_MS: '86400000' }, 2);
    const report = await runAndRead(t, { from: new Date(today()).toISOString(), to: now() + 1 });
    const route = report.routes[0]!;
    expect(route.absent).toEqual({ capillary: expect.any(String), adobe: expect.stringContaining('dry-run') });
    const hour = Math.floor(now() / 3_600_000) * 3_600_000;
    expect(route.windows.map((w) => w.from)).toEqual(Array.from({ length: 13 }, (_, i) => today() + i * 3_600_000));
    expect(windowOf(report, hour)).toMatchObject({ capillary: null, adobe: null, relay: { accepted: 2 }, findings: [] });
  });

  it('a run of one route and range; an unknown route is 404, a bad instant 400', async () => {
    world = await startAccountingWorld();
    t = await relayWithEvents(world.env, 1);
    const res = await t.app.inject({ method: 'POST', url: '/admin/accounting/run', headers: adminHeaders, payload: { route: 'default', from: today() - DAY, to: new Date(today()).toISOString() } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ routes: Array<{ windows: AccountingWindow[] }> }>().routes[0]!.windows.map((w) => w.from)).toEqual([today() - DAY]);
    const unknown = await t.app.inject({ method: 'POST', url: '/admin/accounting/run', headers: adminHeaders, payload: { route: 'nope' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe('route_not_found');
    const bad = await t.app.inject({ method: 'POST', url: '/admin/accounting/run', headers: adminHeaders, payload: { from: 'yesterday' } });
    expect(bad.statusCode).toBe(400);
    const backwards = await t.app.inject({ method: 'GET', url: `/admin/accounting?from=${today()}&to=${today() - 1}`, headers: adminHeaders });
    expect(backwards.statusCode).toBe(400);
  });
});
