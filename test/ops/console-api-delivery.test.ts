import { afterEach, describe, expect, it } from 'vitest';
import { AttemptList, DeadLetterGroups, Job } from '../../src/http/console-schemas.js';
import { DeadLetterPage } from '../../src/http/schemas.js';
import { aepEnv, xdmId, xdmMessageValidator } from '../helpers/aep-relay.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { sampleWithId } from '../helpers/samples.js';
import { shaped } from '../helpers/schema-shape.js';
import { waitFor } from '../helpers/wait-for.js';

/** The console routes that show delivery (attempts, dead letters, replay jobs) against the fake Adobe. */
let t: TestApp | undefined;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;
afterEach(async () => {
  await t?.close();
  await dcs?.close();
  await ims?.close();
  t = ims = dcs = undefined;
});

const FAST = { DELIVERY_RETRY_BASE_MS: '10', DELIVERY_RETRY_MAX_MS: '50', DELIVERY_LINGER_MS: '5', DELIVERY_POLL_INTERVAL_MS: '20', CIRCUIT_OPEN_MS: '100' };

async function setup() {
  ims = await startFakeIms();
  dcs = await startFakeDcs({ validate: xdmMessageValidator, ims });
  // No profile dataset: one event is one message, so counts of messages are counts of events.
  t = await buildTestApp(aepEnv(ims, dcs, { ...FAST, AEP_PROFILE_DATASET_ID: '', AEP_PROFILE_SCHEMA_ID: '' }));
  return { app: t.app, dcs };
}

type App = TestApp['app'];
const get = (app: App, url: string) => app.inject({ method: 'GET', url, headers: adminHeaders });

async function post(app: App, eventId: string) {
  const res = await app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId('customer-added', eventId)) });
  expect(res.statusCode, res.body).toBe(202);
}

const settled = (app: App) => waitFor(async () => (await app.store.queueStats(Date.now())).pending === 0, { what: 'nothing left pending' });

describe('console API with the fake Adobe', () => {
  it('lists the attempts of a failed then successful delivery in order, with the xactionId on success', async () => {
    const { app, dcs } = await setup();
    dcs.setFault({ kind: 'status', status: 503 }, { times: 1 });
    await post(app, 'attempts-1');
    await waitFor(() => dcs.idCounts.get('attempts-1') === 1, { what: 'attempts-1 delivered after the 503' });
    const list = await waitFor(async () => {
      const body = shaped(AttemptList, (await get(app, '/admin/events/attempts-1/attempts')).json());
      return body.items.length === 2 ? body : undefined;
    }, { what: 'two attempts recorded' });
    expect(list.items.map((a: { status: number | null; outcome: string }) => [a.status, a.outcome])).toEqual([
      [503, 'retry'],
      [207, 'delivered'],
    ]);
    const [failed, delivered] = list.items;
    expect(failed.xactionId).toBeUndefined();
    expect(failed.error).toEqual(expect.any(String));
    expect(delivered.error).toBeUndefined();
    expect(delivered.xactionId).toBe(dcs.accepted.find((m) => m.id === 'attempts-1')!.xactionId);
    expect(failed.messageId).toBe(delivered.messageId);
    expect(delivered.at).toBeGreaterThanOrEqual(failed.at);
    expect(dcs.requests.map((r) => r.outcome)).toEqual([503, 207]);
  });

  it('groups dead letters by reason with counts, searches them by reason, and a replay job re-sends one reason', async () => {
    const { app, dcs } = await setup();
    dcs.setValidator(() => 'Missing required field: body.xdmEntity.loyalty');
    for (const id of ['invalid-1', 'invalid-2', 'invalid-3']) await post(app, id);
    await waitFor(async () => (await app.store.queueStats(Date.now())).deadLetters === 3, { what: 'three invalid_xdm dead letters' });
    dcs.setValidator(xdmMessageValidator);
    dcs.setFault({ kind: 'status', status: 413 });
    for (const id of ['large-1', 'large-2']) await post(app, id);
    await waitFor(async () => (await app.store.queueStats(Date.now())).deadLetters === 5, { what: 'two too_large dead letters' });
    dcs.setFault(null);

    const groups = shaped(DeadLetterGroups, (await get(app, '/admin/dead-letters/groups')).json());
    expect(groups.groups.map((g: { reason: string; count: number }) => [g.reason, g.count])).toEqual([
      ['invalid_xdm', 3],
      ['too_large', 2],
    ]);
    for (const g of groups.groups) expect(g.oldestAt).toBeLessThanOrEqual(g.newestAt);
    const onlyLarge = shaped(DeadLetterGroups, (await get(app, '/admin/dead-letters/groups?reason=too_large')).json());
    expect(onlyLarge.groups).toMatchObject([{ reason: 'too_large', count: 2 }]);
    const future = shaped(DeadLetterGroups, (await get(app, `/admin/dead-letters/groups?from=${Date.now() + 60_000}`)).json());
    expect(future.groups).toEqual([]);

    const page1 = shaped(DeadLetterPage, (await get(app, '/admin/dead-letters/search?reason=invalid_xdm&limit=2')).json());
    const page2 = shaped(DeadLetterPage, (await get(app, `/admin/dead-letters/search?reason=invalid_xdm&limit=2&after=${page1.nextAfter}`)).json());
    expect([...page1.items, ...page2.items].map((d: { eventId: string }) => d.eventId)).toEqual(['invalid-1', 'invalid-2', 'invalid-3']);
    expect(page2.nextAfter).toBeNull();

    const started = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay-jobs', headers: adminHeaders, payload: { reason: 'invalid_xdm' } });
    expect(started.statusCode).toBe(202);
    const job = shaped(Job, started.json());
    expect(job).toMatchObject({ kind: 'dead_letter_replay', total: 3 });
    const finished = await waitFor(async () => {
      const view = shaped(Job, (await get(app, `/admin/jobs/${job.jobId}`)).json());
      return view.state === 'running' ? undefined : view;
    }, { what: 'the replay job to finish' });
    expect(finished).toMatchObject({ state: 'done', done: 3, total: 3, result: { requeued: 3, examined: 3 }, error: null });
    expect(finished.finishedAt).toEqual(expect.any(Number));

    await waitFor(() => ['invalid-1', 'invalid-2', 'invalid-3'].every((id) => dcs.idCounts.get(id) === 1), { what: 'the replayed dead letters delivered' });
    await settled(app);
    expect(dcs.accepted.map((m) => xdmId(m.message)).filter((id) => id?.startsWith('large-'))).toEqual([]);
    const after = shaped(DeadLetterGroups, (await get(app, '/admin/dead-letters/groups')).json());
    expect(after.groups).toMatchObject([{ reason: 'too_large', count: 2 }]);
  });
});
