import { afterEach, describe, expect, it } from 'vitest';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import type { Sink } from '../../src/delivery/types.js';
import { adminHeaders, authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Stores an event the way an older relay, which had no mapping for its name, would have. */
async function storeAsUnmapped(app: TestApp['app'], body: Record<string, unknown>) {
  const normalized = normalizeEnvelope(body, Date.now());
  if (!normalized.ok) throw new Error('fixture is not an event');
  await app.store.acceptEvent({ event: normalized.event, payload: JSON.stringify(body), mapping: { status: 'unmapped', messages: [], warnings: [] } });
}

describe('admin API', () => {
  it('is off (404) when ADMIN_TOKEN is unset', async () => {
    t = await buildTestApp({ ADMIN_TOKEN: '' });
    const res = await t.app.inject({ method: 'GET', url: '/admin/dead-letters', headers: adminHeaders });
    expect(res.statusCode).toBe(404);
  });

  it('answers 401 without the bearer token, or with a wrong one', async () => {
    t = await buildTestApp();
    expect((await t.app.inject({ method: 'GET', url: '/admin/dead-letters' })).statusCode).toBe(401);
    const wrong = await t.app.inject({ method: 'GET', url: '/admin/dead-letters', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
  });

  it('answers 404 with a code for an event it never stored', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({ method: 'GET', url: '/admin/events/never-seen', headers: adminHeaders });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('event_not_found');
  });

  it('re-maps stored unmapped events and delivers what the current mapper produces', async () => {
    t = await buildTestApp();
    await storeAsUnmapped(t.app, sampleWithId('points-redeemed', 'old-unmapped-1'));
    await storeAsUnmapped(t.app, { ...sampleWithId('points-redeemed', 'old-unmapped-2'), eventName: 'stillUnknownEvent' });
    const before = (await t.app.inject({ method: 'GET', url: '/admin/events/old-unmapped-1', headers: adminHeaders })).json();
    expect(before).toMatchObject({ state: 'unmapped', messages: [] });

    const res = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'unmapped' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ examined: 2, requeued: 1, stillUnmapped: 1, busy: 0, nextAfter: null });

    const app = t.app;
    const after = await waitFor(async () => {
      const view = (await app.inject({ method: 'GET', url: '/admin/events/old-unmapped-1', headers: adminHeaders })).json();
      return view.state === 'delivered' ? view : undefined;
    }, { what: 'the replayed event to be delivered' });
    expect(after.messages[0].message.body.xdmEntity).toMatchObject({ _id: 'old-unmapped-1', eventType: 'loyalty.pointsRedeemed' });
    const still = (await t.app.inject({ method: 'GET', url: '/admin/events/old-unmapped-2', headers: adminHeaders })).json();
    expect(still.state).toBe('unmapped');
  });

  it('refuses an event replay that names neither a state nor ids, and a malformed body', async () => {
    t = await buildTestApp();
    const empty = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: {} });
    expect(empty.statusCode).toBe(400);
    const bad = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'everything' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('invalid_request');
  });

  it('pages dead letters with their reasons and re-queues them by id or all', async () => {
    // A sink that rejects everything, as Adobe does with invalid XDM: the real worker dead-letters.
    let accept = false;
    const delivered: string[] = [];
    const sink: Sink = {
      name: 'aep',
      async send(batch) {
        if (accept) delivered.push(...batch.map((m) => m.eventId));
        return batch.map((m) => (accept ? { id: m.id, outcome: 'delivered' as const } : { id: m.id, outcome: 'rejected' as const, reason: 'invalid_xdm', detail: 'Adobe: missing timestamp' }));
      },
      readiness: async () => ({ ok: true }),
      close: async () => undefined,
    };
    t = await buildTestApp({}, { sink });
    const app = t.app;
    for (const id of ['dl-1', 'dl-2', 'dl-3']) {
      expect((await app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId('points-issued', id)) })).statusCode).toBe(202);
    }
    await waitFor(async () => (await app.store.queueStats(Date.now())).deadLetters === 3, { what: 'three dead letters' });

    const page1 = (await app.inject({ method: 'GET', url: '/admin/dead-letters?limit=2', headers: adminHeaders })).json();
    expect(page1.items).toHaveLength(2);
    expect(page1.items[0]).toMatchObject({ eventId: 'dl-1', reason: 'invalid_xdm', error: 'Adobe: missing timestamp', kind: 'event', attempts: 1 });
    const page2 = (await app.inject({ method: 'GET', url: `/admin/dead-letters?limit=2&after=${page1.nextAfter}`, headers: adminHeaders })).json();
    expect(page2.items.map((d: { eventId: string }) => d.eventId)).toEqual(['dl-3']);
    expect(page2.nextAfter).toBeNull();
    expect((await app.inject({ method: 'GET', url: '/admin/events/dl-1', headers: adminHeaders })).json()).toMatchObject({ state: 'dead', lastError: 'Adobe: missing timestamp' });

    accept = true; // the schema was fixed in AEP
    const one = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: { ids: [page1.items[0].id] } });
    expect(one.json()).toEqual({ requeued: 1 });
    await waitFor(() => delivered.includes('dl-1'), { what: 'dl-1 re-sent' });
    const all = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: { all: true } });
    expect(all.json()).toEqual({ requeued: 2 });
    await waitFor(() => delivered.length === 3, { what: 'every dead letter re-sent' });
    expect((await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: adminHeaders })).json().items).toEqual([]);
    const none = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: adminHeaders, payload: {} });
    expect(none.statusCode).toBe(400);
  });
});
