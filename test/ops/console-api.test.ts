import { afterEach, describe, expect, it } from 'vitest';
import type { Sink } from '../../src/delivery/types.js';
import { ConsoleSummary, EventSearchPage, MappingPreview } from '../../src/http/console-schemas.js';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { sampleWithId } from '../helpers/samples.js';
import { shaped } from '../helpers/schema-shape.js';
import { waitFor } from '../helpers/wait-for.js';

/** The console's read routes (src/ops/console-api.ts) through app.inject, each answer checked against its schema. */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

type App = TestApp['app'];

const get = (app: App, url: string) => app.inject({ method: 'GET', url, headers: adminHeaders });

/** One webhook about `customerId` (the member the console searches by). */
async function post(app: App, eventId: string, customerId = 387979652, name = 'points-issued') {
  const body = sampleWithId(name, eventId) as { data: { customerIdentifiers: { customerId: number }; entityInformation?: { entityId: number } } };
  body.data.customerIdentifiers.customerId = customerId;
  if (body.data.entityInformation) body.data.entityInformation.entityId = customerId;
  const res = await app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(body) });
  expect(res.statusCode, res.body).toBe(202);
}

/** Stores an event the way an older relay without a mapping for its name would have. */
async function storeAsUnmapped(app: App, body: Record<string, unknown>, receivedAt: number) {
  const normalized = normalizeEnvelope(body, receivedAt);
  if (!normalized.ok) throw new Error('fixture is not an event');
  await app.store.acceptEvent({ event: normalized.event, payload: JSON.stringify(body), mapping: { status: 'unmapped', messages: [], warnings: [] } });
}

const T0 = Date.UTC(2025, 6, 1, 12, 0, 30);

describe('console API: refusals', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/admin/events'],
    ['GET', '/admin/events/e-1/attempts'],
    ['POST', '/admin/events/e-1/preview'],
    ['GET', '/admin/dead-letters/groups'],
    ['GET', '/admin/dead-letters/search'],
    ['POST', '/admin/dead-letters/replay-jobs', {}],
    ['GET', '/admin/jobs/some-job'],
    ['GET', '/admin/summary'],
  ];

  it('answers 401 on every console route without the bearer token, and with a wrong one', async () => {
    t = await buildTestApp();
    for (const [method, url, payload] of routes) {
      for (const headers of [{}, { authorization: 'Bearer not-the-admin-token-0123456789abcdef' }]) {
        const res = await t.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload: payload as object } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(401);
        expect(res.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
      }
    }
  });

  it('answers 400 with a code on a query or body that breaks its schema', async () => {
    t = await buildTestApp();
    const bad: [string, string, unknown?][] = [
      ['GET', '/admin/events?limit=0'],
      ['GET', '/admin/events?limit=201'],
      ['GET', '/admin/events?state=everything'],
      ['GET', '/admin/events?from=-1'],
      ['GET', '/admin/events?to=yesterday'],
      ['GET', '/admin/events?colour=red'],
      ['GET', `/admin/events?before=${'x'.repeat(2201)}`],
      ['GET', '/admin/dead-letters/groups?from=soon'],
      ['GET', '/admin/dead-letters/groups?limit=5'],
      ['GET', '/admin/dead-letters/search?limit=1001'],
      ['GET', '/admin/dead-letters/search?after=-3'],
      ['POST', '/admin/dead-letters/replay-jobs', { all: true }],
      ['POST', '/admin/dead-letters/replay-jobs', { reason: '' }],
    ];
    for (const [method, url, payload] of bad) {
      const res = await t.app.inject({ method: method as 'GET', url, headers: adminHeaders, ...(payload ? { payload: payload as object } : {}) });
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(payload)}`).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    }
  });

  it('answers 404 with a code for an unknown event preview and an unknown job', async () => {
    t = await buildTestApp();
    const preview = await t.app.inject({ method: 'POST', url: '/admin/events/never-seen/preview', headers: adminHeaders });
    expect([preview.statusCode, preview.json().error]).toEqual([404, 'event_not_found']);
    const job = await get(t.app, '/admin/jobs/never-started');
    expect([job.statusCode, job.json().error]).toEqual([404, 'job_not_found']);
    const attempts = await get(t.app, '/admin/events/never-seen/attempts');
    expect([attempts.statusCode, attempts.json()]).toEqual([200, { items: [] }]);
  });
});

describe('console API: event search', () => {
  it('pages every event exactly once, newest first, across pages (ties on received time included)', async () => {
    let clock = T0;
    t = await buildTestApp({}, { now: () => clock });
    const ids: string[] = [];
    for (let i = 0; i < 11; i += 1) {
      if (i % 3 === 0) clock += 1_000; // three events share each millisecond: the event id breaks the tie
      const id = `page-${String(i).padStart(2, '0')}`;
      ids.push(id);
      await post(t.app, id);
    }
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let before: string | null = null;
    do {
      const res = await get(t.app, `/admin/events?limit=4${before ? `&before=${encodeURIComponent(before)}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = shaped<{ items: { eventId: string; receivedAt: number }[]; next: string | null }>(EventSearchPage, res.json());
      pageSizes.push(page.items.length);
      seen.push(...page.items.map((e) => e.eventId));
      before = page.next;
    } while (before !== null && pageSizes.length < 10);
    expect(pageSizes).toEqual([4, 4, 3]);
    expect(seen).toEqual([...ids].reverse());
  });

  it("finds only the searched member's events by customer id, and one event by its id", async () => {
    t = await buildTestApp();
    await post(t.app, 'member-a-1', 111111);
    await post(t.app, 'member-b-1', 222222);
    await post(t.app, 'member-a-2', 111111, 'points-redeemed');
    await post(t.app, 'member-b-2', 222222);
    const byCustomer = shaped(EventSearchPage, (await get(t.app, '/admin/events?q=111111')).json());
    expect(byCustomer.items.map((e: { eventId: string }) => e.eventId)).toEqual(['member-a-2', 'member-a-1']);
    expect(byCustomer.items.every((e: { customerId: string }) => e.customerId === '111111')).toBe(true);
    expect(byCustomer.next).toBeNull();
    const byId = shaped(EventSearchPage, (await get(t.app, '/admin/events?q=member-b-2')).json());
    expect(byId.items).toEqual([{ eventId: 'member-b-2', eventName: 'pointsIssued', customerId: '222222', route: null, receivedAt: expect.any(Number), state: expect.any(String) }]);
    expect((await get(t.app, '/admin/events?q=333333')).json()).toEqual({ items: [], next: null });
  });

  it('filters by name, state and time range', async () => {
    let clock = T0;
    t = await buildTestApp({}, { now: () => clock });
    await post(t.app, 'early', 111111);
    clock = T0 + 60_000;
    await post(t.app, 'late-redeemed', 111111, 'points-redeemed');
    await storeAsUnmapped(t.app, { ...sampleWithId('points-issued', 'late-unmapped'), eventName: 'somethingNew' }, T0 + 60_000);
    const ids = async (query: string) => shaped(EventSearchPage, (await get(t!.app, `/admin/events?${query}`)).json()).items.map((e: { eventId: string }) => e.eventId);
    expect(await ids('name=pointsRedeemed')).toEqual(['late-redeemed']);
    expect(await ids('state=unmapped')).toEqual(['late-unmapped']);
    expect(await ids(`to=${T0 + 60_000}`)).toEqual(['early']);
    expect((await ids(`from=${T0 + 60_000}`)).sort()).toEqual(['late-redeemed', 'late-unmapped']);
    expect(await ids(`from=${T0}&to=${T0 + 1}`)).toEqual(['early']);
    await waitFor(async () => (await ids('state=delivered')).length === 2, { what: 'the dry-run sink to deliver both mapped events' });
    expect((await ids('state=delivered')).sort()).toEqual(['early', 'late-redeemed']);
  });
});

describe('console API: preview and summary', () => {
  it('previews what a replay would queue and changes nothing in the store', async () => {
    t = await buildTestApp();
    await storeAsUnmapped(t.app, sampleWithId('points-redeemed', 'preview-1'), Date.now());
    const before = (await get(t.app, '/admin/events/preview-1')).json();
    const statsBefore = await t.app.store.queueStats(Date.now());
    const res = await t.app.inject({ method: 'POST', url: '/admin/events/preview-1/preview', headers: adminHeaders });
    expect(res.statusCode).toBe(200);
    const preview = shaped(MappingPreview, res.json());
    expect(preview).toMatchObject({ eventId: 'preview-1', status: 'mapped' });
    expect(preview.messages.map((m: { kind: string }) => m.kind)).toContain('event');
    expect(preview.messages.find((m: { kind: string }) => m.kind === 'event').message.body.xdmEntity._id).toBe('preview-1');
    expect((await get(t.app, '/admin/events/preview-1')).json()).toEqual(before);
    expect(before).toMatchObject({ state: 'unmapped', messages: [] });
    expect(await t.app.store.queueStats(Date.now())).toEqual(statsBefore);
    expect(shaped(EventSearchPage, (await get(t.app, '/admin/events?state=unmapped')).json()).items).toHaveLength(1);
  });

  it('counts accepted and delivered events per minute for the last hour on the injected clock', async () => {
    let clock = T0;
    // A sink that delivers at once and reports the request at the injected clock's time.
    const sink: Sink = {
      name: 'aep',
      send: async (batch) => batch.map((m) => ({ id: m.id, outcome: 'delivered' as const, request: { at: clock, durationMs: 3, status: 200, batchSize: batch.length, xactionId: `x-${m.id}` } })),
      readiness: async () => ({ ok: true }),
      close: async () => undefined,
    };
    t = await buildTestApp({}, { now: () => clock, sink });
    const app = t.app;
    const minute = (at: number) => Math.floor(at / 60_000) * 60_000;
    clock = T0 - 5 * 60_000;
    await post(app, 'five-minutes-ago-1');
    await post(app, 'five-minutes-ago-2');
    await waitFor(async () => (await app.store.queueStats(clock)).pending === 0, { what: 'the first two delivered' });
    clock = T0 - 2 * 3_600_000;
    await post(app, 'two-hours-ago'); // outside the window
    await waitFor(async () => (await app.store.queueStats(clock)).pending === 0, { what: 'the old one delivered' });
    clock = T0;
    for (const id of ['now-1', 'now-2', 'now-3']) await post(app, id);
    await waitFor(async () => (await app.store.queueStats(clock)).pending === 0, { what: 'the last three delivered' });

    const res = await get(app, '/admin/summary');
    expect(res.statusCode).toBe(200);
    const summary = shaped(ConsoleSummary, res.json());
    expect(summary.now).toBe(T0);
    expect(summary.perMinute).toHaveLength(60);
    expect(summary.perMinute[0].minute).toBe(minute(T0) - 59 * 60_000);
    expect(summary.perMinute[59]).toEqual({ minute: minute(T0), accepted: 3, delivered: 3 });
    expect(summary.perMinute[54]).toEqual({ minute: minute(T0) - 5 * 60_000, accepted: 2, delivered: 2 });
    const busy = summary.perMinute.filter((m: { accepted: number; delivered: number }) => m.accepted + m.delivered > 0);
    expect(busy).toHaveLength(2);
    expect(summary.queue).toEqual({ pending: 0, oldestPendingAgeMs: 0, deadLetters: 0 });
    expect(summary).toMatchObject({ deadLetters: [], token: { state: 'not_used', expiresAt: null, lastErrorCode: null }, circuit: 'closed' });
  });
});
