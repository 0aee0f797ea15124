import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountingReport, AccountingRunResult, AccountingWindow } from '../../src/http/accounting-schemas.js';
import { AEP, xdmId } from '../helpers/aep-relay.js';
import { acceptedIn, addFailedBatch, DAY, noonClock, setLanded, startAccountingWorld, VALIDATION_ERROR, type AccountingWorld } from '../helpers/accounting-world.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { metricValue } from '../helpers/metric-values.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 17, end to end: webhooks in, delivered to the fake DCS, then the accounting job against the
 * fake Capillary API and the fake Platform API (real HTTP servers). A clean day shows no finding;
 * Capillary giving up on 2 events and Adobe failing 2 records of delivered events show both findings
 * with their counts, the 2 messages become dead letters with Adobe's messages and replay; once
 * re-sent and replayed, a run shows none again.
 */
let world: AccountingWorld;
let t: TestApp;
const now = noonClock();
const today = () => Math.floor(now() / DAY) * DAY;
const names = Object.keys(SAMPLES);
const ids = names.map((name, i) => `acct-${i}-${name}`);

beforeAll(async () => {
  world = await startAccountingWorld();
  t = await buildTestApp(world.env, { now });
  for (const [i, id] of ids.entries()) {
    const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId(names[i]!, id)) });
    expect(res.statusCode).toBe(202);
    world.capillary.deliveries.push({ eventId: id, eventName: names[i]!, status: 'DELIVERED', eventTime: now() });
  }
  await waitFor(async () => (await t.app.store.queueStats(now())).pending === 0 && world.dcs.accepted.length > 0, { what: 'every message delivered' });
});

afterAll(async () => {
  const logs = t?.logs.text ?? '';
  await t?.close();
  // Nothing logged carries Capillary's secret or a token of either side.
  expect(logs).not.toContain(world.capillary.secret);
  for (const token of [...world.capillary.issuedTokens, ...world.ims.issuedTokens]) expect(logs).not.toContain(token);
  await world?.close();
});

const landEverything = () => {
  for (const dataset of [AEP.event.datasetId, AEP.profile.datasetId]) setLanded(world.platform, dataset, today(), acceptedIn(world.dcs, dataset).length);
};

async function run(): Promise<AccountingRunResult> {
  const res = await t.app.inject({ method: 'POST', url: '/admin/accounting/run', headers: adminHeaders });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function todayWindow(): Promise<AccountingWindow> {
  const res = await t.app.inject({ method: 'GET', url: '/admin/accounting', headers: adminHeaders });
  expect(res.statusCode, res.body).toBe(200);
  const report = res.json<AccountingReport>();
  expect(report.routes.map((r) => r.route)).toEqual(['default']);
  const window = report.routes[0]!.windows.find((w) => w.from === today());
  if (!window) throw new Error('no window for today');
  return window;
}

const findingsOf = async () => (await todayWindow()).findings.map((f) => [f.kind, f.count]);

describe('accounting end to end: Capillary, the relay and Adobe', () => {
  it('a clean day: every column agrees, no finding', async () => {
    landEverything();
    const result = await run();
    // Day windows (Adobe is read): the last 7 days and, with no lag, today.
    expect(result.routes[0]!.windows.map((w) => w.from)).toEqual(Array.from({ length: 8 }, (_, i) => today() - (7 - i) * DAY));
    const window = await todayWindow();
    const events = acceptedIn(world.dcs, AEP.event.datasetId).length;
    const profiles = acceptedIn(world.dcs, AEP.profile.datasetId).length;
    expect(window).toMatchObject({
      capillary: { status: 'ok', total: ids.length, delivered: ids.length, failed: 0, retrying: 0, pending: 0 },
      relay: {
        accepted: ids.length,
        held: 0,
        unmapped: 0,
        datasets: [
          { dataset: AEP.event.datasetId, kind: 'event', delivered: events, rejectedAfterAcceptance: 0, dead: 0 },
          { dataset: AEP.profile.datasetId, kind: 'profile', delivered: profiles, rejectedAfterAcceptance: 0, dead: 0 },
        ],
      },
      adobe: {
        status: 'ok',
        datasets: [
          { dataset: AEP.event.datasetId, kind: 'event', landed: events, failedRecords: 0, failedBatches: 0 },
          { dataset: AEP.profile.datasetId, kind: 'profile', landed: profiles, failedRecords: 0, failedBatches: 0 },
        ],
      },
      findings: [],
    });
    expect(await metricValue(t.app.metrics.registry, 'relay_accounting_findings', { route: 'default' })).toBe(0);
    expect(await metricValue(t.app.metrics.registry, 'relay_accounting_last_success_timestamp_seconds', { route: 'default', source: 'adobe' })).toBeGreaterThan(0);
  });

  it('Capillary gave up on 2 events and Adobe failed 2 delivered records: both findings, the 2 messages dead letters with Adobe\'s message', async () => {
    const gaveUp = ['never-arrived-1', 'never-arrived-2'];
    for (const id of gaveUp) world.capillary.deliveries.push({ eventId: id, eventName: 'pointsIssued', status: 'FAILED', eventTime: now(), httpStatus: 503 });
    const failedEvents = acceptedIn(world.dcs, AEP.event.datasetId).slice(0, 2) as Array<{ body: { xdmEntity: Record<string, unknown> } }>;
    const rejectedIds = failedEvents.map((m) => xdmId(m)!);
    // The streaming batch opened before those messages were acknowledged and closed after.
    addFailedBatch(world.platform, { id: 'batch-failed-1', dataset: AEP.event.datasetId, created: now() - 60_000, completed: now(), records: failedEvents.map((m) => m.body.xdmEntity) });
    // Adobe landed all but the two it failed.
    setLanded(world.platform, AEP.event.datasetId, today(), acceptedIn(world.dcs, AEP.event.datasetId).length - 2);

    await run();
    const window = await todayWindow();
    expect(window.findings.map((f) => [f.kind, f.count])).toEqual([
      ['capillary_gave_up', 2],
      ['rejected_after_acceptance', 2],
    ]);
    const [capillaryFinding, adobeFinding] = window.findings;
    expect(capillaryFinding!.events!.map((e) => [e.eventId, e.requestId, e.storedByRelay])).toEqual(gaveUp.map((id) => [id, `req-${id}`, false]));
    expect(adobeFinding!.events!.map((e) => e.eventId).sort()).toEqual([...rejectedIds].sort());
    expect(window.relay.datasets[0]).toMatchObject({ rejectedAfterAcceptance: 2 });
    expect(window.adobe!.datasets[0]).toMatchObject({ failedRecords: 2, failedBatches: 1 });

    const letters = (await t.app.inject({ method: 'GET', url: '/admin/dead-letters', headers: adminHeaders })).json<{ items: Array<{ id: number; eventId: string; reason: string; error: string }> }>().items;
    expect(letters.map((d) => [d.eventId, d.reason]).sort()).toEqual(rejectedIds.map((id) => [id, 'rejected_after_acceptance']).sort());
    for (const letter of letters) expect(letter.error).toContain(`${VALIDATION_ERROR.message} (at ${VALIDATION_ERROR.pointerToViolation})`);
    expect((await t.app.inject({ method: 'GET', url: `/admin/events/${rejectedIds[0]}`, headers: adminHeaders })).json()).toMatchObject({ state: 'dead' });
    const registry = t.app.metrics.registry;
    expect(await metricValue(registry, 'relay_accounting_findings', { route: 'default', kind: 'capillary_gave_up' })).toBe(2);
    expect(await metricValue(registry, 'relay_accounting_findings', { route: 'default', kind: 'rejected_after_acceptance' })).toBe(2);
    expect(await metricValue(registry, 'relay_messages_dead_lettered_total', { reason: 'rejected_after_acceptance' })).toBe(2);

    // Running again finds the same, and moves nothing twice.
    await run();
    expect(await findingsOf()).toEqual([['capillary_gave_up', 2], ['rejected_after_acceptance', 2]]);
    expect(await metricValue(registry, 'relay_messages_dead_lettered_total', { reason: 'rejected_after_acceptance' })).toBe(2);

    // The dead letters replay like any other (once someone fixed the schema: minutes later), and go to Adobe again with the same _id.
    now.advance(10 * 60_000);
    const replay = await t.app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: { ids: letters.map((d) => d.id) } });
    expect(replay.json()).toEqual({ requeued: 2 });
    await waitFor(() => rejectedIds.every((id) => world.dcs.idCounts.get(id) === 2), { what: 'the replayed messages delivered again' });
    await waitFor(async () => (await t.app.store.queueStats(now())).pending === 0, { what: 'the queue empty' });
  });

  it('once the events are re-sent from Capillary and the dead letters replayed, a run shows no finding', async () => {
    for (const id of ['never-arrived-1', 'never-arrived-2']) {
      const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId('points-issued', id)) });
      expect(res.statusCode).toBe(202);
    }
    await waitFor(async () => (await t.app.store.queueStats(now())).pending === 0, { what: 'the re-sent events delivered' });
    landEverything();
    await run();
    const window = await todayWindow();
    expect(window.findings).toEqual([]);
    // The record of what happened stays: Capillary still counts its 2 failures, Adobe its 2 failed records.
    expect(window.capillary).toMatchObject({ failed: 2 });
    expect(window.adobe!.datasets[0]).toMatchObject({ failedRecords: 2 });
    expect(await metricValue(t.app.metrics.registry, 'relay_accounting_findings', { route: 'default' })).toBe(0);
  });
});
