import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import type { MappingResult, OutboundMessage } from '../../src/mapping/types.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';

/**
 * The storage contract: every Store implementation (SQLite, PostgreSQL) runs this same suite.
 * `open` gives a fresh, empty store; `reopen` opens the same data again (a process restart).
 */
export interface StoreHarness {
  open(): Promise<Store>;
}

export const T0 = 1_750_000_000_000;
let seq = 0;

export function capillaryEvent(overrides: Partial<CapillaryEvent> = {}): CapillaryEvent {
  seq += 1;
  return {
    eventId: `evt-${seq}-${Math.random().toString(36).slice(2)}`,
    eventName: 'pointsIssued',
    createdAt: T0,
    receivedAt: T0,
    orgId: '1',
    refId: undefined,
    apiRequestId: undefined,
    eventLogId: undefined,
    loyaltyEventId: undefined,
    envelope: 'flat',
    data: {},
    ...overrides,
  };
}

export function outbound(id: string, overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    kind: 'event',
    sourceCreatedAt: T0,
    message: {
      header: { schemaRef: { id: 'https://ns.adobe.com/t/schemas/e', contentType: 'application/vnd.adobe.xed-full+json;version=1' }, datasetId: 'ds' },
      body: { xdmMeta: { schemaRef: { id: 'https://ns.adobe.com/t/schemas/e', contentType: 'application/vnd.adobe.xed-full+json;version=1' } }, xdmEntity: { _id: id, timestamp: new Date(T0).toISOString() } },
    },
    ...overrides,
  };
}

export const mapped = (...messages: OutboundMessage[]): MappingResult => ({ status: 'mapped', messages, warnings: [] });
const unmapped: MappingResult = { status: 'unmapped', messages: [], warnings: [] };

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    const accept = (event = capillaryEvent(), mapping: MappingResult = mapped(outbound(event.eventId))) =>
      store.acceptEvent({ event, payload: JSON.stringify({ eventId: event.eventId, eventName: event.eventName }), mapping });
    /** A profile record (Loyalty Details) of one member and program (`key`), with its source time. */
    const profile = (eventId: string, createdAt: number, key = 'cust-9:prog-1') =>
      outbound(eventId, { kind: 'profile', profileKey: key, sourceCreatedAt: createdAt });

    it('accepts an event once and answers duplicate for the same eventId, also within one commit group', async () => {
      const event = capillaryEvent();
      const [a, b] = await Promise.all([accept(event), accept(event)]);
      expect([a.outcome, b.outcome].sort()).toEqual(['accepted', 'duplicate']);
      expect((await accept(event)).outcome).toBe('duplicate');
      const view = await store.getEvent(event.eventId);
      expect(view?.messages).toHaveLength(1);
    });

    it('keeps an unmapped event with no messages, visible as unmapped', async () => {
      const event = capillaryEvent({ eventName: 'brandNewEvent' });
      expect((await accept(event, unmapped)).outcome).toBe('accepted');
      const view = await store.getEvent(event.eventId);
      expect(view).toMatchObject({ eventId: event.eventId, eventName: 'brandNewEvent', state: 'unmapped', mappingStatus: 'unmapped', messages: [] });
      expect(view?.payload).toEqual({ eventId: event.eventId, eventName: 'brandNewEvent' });
    });

    it('leases due messages to one owner; an expired lease makes them due again with the same body', async () => {
      const event = capillaryEvent();
      await accept(event);
      const first = await store.claimDue({ owner: 'a', now: T0, leaseMs: 1000, limit: 10 });
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ eventId: event.eventId, kind: 'event', attempts: 0, acceptedAt: T0 });
      expect(await store.claimDue({ owner: 'b', now: T0 + 999, leaseMs: 1000, limit: 10 })).toHaveLength(0);
      const again = await store.claimDue({ owner: 'b', now: T0 + 1000, leaseMs: 1000, limit: 10 });
      expect(again.map((m) => m.body)).toEqual(first.map((m) => m.body));
      // The first owner's lease is gone: its settlement must not count.
      await store.settle('a', [{ id: first[0]!.id, outcome: 'delivered' }], T0 + 1001);
      expect((await store.getEvent(event.eventId))?.state).toBe('pending');
      await store.settle('b', [{ id: first[0]!.id, outcome: 'delivered' }], T0 + 1002);
      const view = await store.getEvent(event.eventId);
      expect(view?.state).toBe('delivered');
      expect(view?.messages[0]).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: T0 + 1002 });
    });

    it("keeps the intake span's traceparent with the event and hands it to every claim of its messages", async () => {
      const traced = capillaryEvent();
      const untraced = capillaryEvent();
      const traceParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await store.acceptEvent({ event: traced, payload: '{}', mapping: mapped(outbound(`${traced.eventId}-a`), outbound(`${traced.eventId}-b`)), traceParent });
      await accept(untraced);
      const claimed = await store.claimDue({ owner: 'w1', now: T0, leaseMs: 1, limit: 10 });
      expect(claimed.map((m) => [m.eventId, m.traceParent])).toEqual([
        [traced.eventId, traceParent],
        [traced.eventId, traceParent],
        [untraced.eventId, undefined],
      ]);
      // A retry, however much later, still carries it.
      await store.settle('w1', claimed.map((m) => ({ id: m.id, outcome: 'retry', nextAttemptAt: T0 + 10, error: 'http_5xx: 503' })), T0 + 1);
      const again = await store.claimDue({ owner: 'w2', now: T0 + 10, leaseMs: 1, limit: 10 });
      expect(again.filter((m) => m.eventId === traced.eventId).map((m) => m.traceParent)).toEqual([traceParent, traceParent]);
    });

    it('claims oldest first, up to the limit, and never the same message twice', async () => {
      const events = Array.from({ length: 5 }, () => capillaryEvent());
      for (const e of events) await accept(e);
      const a = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 3 });
      const b = await store.claimDue({ owner: 'b', now: T0, leaseMs: 60_000, limit: 3 });
      expect(a.map((m) => m.eventId)).toEqual(events.slice(0, 3).map((e) => e.eventId));
      expect(b.map((m) => m.eventId)).toEqual(events.slice(3).map((e) => e.eventId));
    });

    it('schedules a retry: not due before its time, attempts counted, error kept', async () => {
      const event = capillaryEvent();
      await accept(event);
      const [m] = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 1 });
      await store.settle('a', [{ id: m!.id, outcome: 'retry', nextAttemptAt: T0 + 5000, error: 'http_503: unavailable' }], T0);
      expect(await store.nextDueAt()).toBe(T0 + 5000);
      expect(await store.claimDue({ owner: 'a', now: T0 + 4999, leaseMs: 60_000, limit: 1 })).toHaveLength(0);
      const [retry] = await store.claimDue({ owner: 'a', now: T0 + 5000, leaseMs: 60_000, limit: 1 });
      expect(retry).toMatchObject({ id: m!.id, attempts: 1 });
      const view = await store.getEvent(event.eventId);
      expect(view).toMatchObject({ state: 'pending', attempts: 1, lastError: 'http_503: unavailable' });
    });

    it('makes due now the retries held by the given failure reasons, and no others', async () => {
      const events = Array.from({ length: 4 }, () => capillaryEvent());
      for (const e of events) await accept(e);
      const [outage, network, rejected, early] = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 4 });
      const retry = (id: number, error: string, at = T0 + 60_000) => ({ id, outcome: 'retry' as const, nextAttemptAt: at, error });
      await store.settle('a', [retry(outage!.id, 'http_5xx: 503 from the inlet'), retry(network!.id, 'network: ECONNREFUSED'), retry(rejected!.id, 'http_4xx: bad record: http_5xx')], T0);
      await store.settle('a', [retry(early!.id, 'http_5xx: 502', T0 + 5)], T0);
      let woken = 0;
      const off = store.onWork(() => (woken += 1));
      expect(await store.makeDueNow(['http_5xx', 'network', 'timeout'], T0 + 10)).toBe(2);
      off();
      expect(woken).toBeGreaterThan(0);
      const due = await store.claimDue({ owner: 'a', now: T0 + 10, leaseMs: 60_000, limit: 10 });
      expect(due.map((m) => m.id).sort((x, y) => x - y)).toEqual([outage!.id, network!.id, early!.id]);
      expect(due.find((m) => m.id === outage!.id)).toMatchObject({ attempts: 1 });
      expect(await store.makeDueNow(['http_5xx'], T0 + 20)).toBe(0);
      expect(await store.nextDueAt()).toBe(T0 + 60_000);
    });

    it('releases a claimed message without counting an attempt', async () => {
      await accept();
      const [m] = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 1 });
      await store.settle('a', [{ id: m!.id, outcome: 'release', nextAttemptAt: T0 }], T0);
      const [again] = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 1 });
      expect(again).toMatchObject({ id: m!.id, attempts: 0 });
    });

    it('dead-letters with a reason, pages them, and replays by id or all', async () => {
      const events = Array.from({ length: 3 }, () => capillaryEvent());
      for (const e of events) await accept(e);
      const claimed = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 10 });
      await store.settle('a', claimed.map((m) => ({ id: m.id, outcome: 'dead' as const, reason: 'invalid_xdm', error: 'missing _id' })), T0 + 10);
      const page1 = await store.listDeadLetters({ limit: 2 });
      expect(page1.map((d) => d.eventId)).toEqual(events.slice(0, 2).map((e) => e.eventId));
      expect(page1[0]).toMatchObject({ reason: 'invalid_xdm', error: 'missing _id', attempts: 1, deadAt: T0 + 10, kind: 'event' });
      const page2 = await store.listDeadLetters({ limit: 2, afterId: page1[1]!.id });
      expect(page2.map((d) => d.eventId)).toEqual([events[2]!.eventId]);
      expect((await store.queueStats(T0 + 10)).deadLetters).toBe(3);
      expect((await store.getEvent(events[0]!.eventId))?.state).toBe('dead');

      expect(await store.replayDeadLetters([page1[0]!.id], T0 + 20)).toBe(1);
      expect((await store.claimDue({ owner: 'a', now: T0 + 20, leaseMs: 60_000, limit: 10 })).map((m) => m.id)).toEqual([page1[0]!.id]);
      expect(await store.replayDeadLetters('all', T0 + 30)).toBe(2);
      expect(await store.listDeadLetters({ limit: 10 })).toHaveLength(0);
    });

    it('skips a profile record older than the newest one queued for the same member and program', async () => {
      const newer = capillaryEvent({ createdAt: T0 + 100 });
      const older = capillaryEvent({ createdAt: T0 });
      const same = capillaryEvent({ createdAt: T0 + 100 });
      const otherProgram = capillaryEvent({ createdAt: T0 });
      expect(await accept(newer, mapped(outbound(newer.eventId), profile(newer.eventId, T0 + 100)))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      expect(await accept(older, mapped(outbound(older.eventId), profile(older.eventId, T0)))).toEqual({ outcome: 'accepted', skippedProfiles: 1 });
      expect(await accept(same, mapped(profile(same.eventId, T0 + 100)))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      expect(await accept(otherProgram, mapped(profile(otherProgram.eventId, T0, 'cust-9:prog-2')))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });

      const view = await store.getEvent(older.eventId);
      expect(view?.messages.map((m) => [m.kind, m.state])).toEqual([['event', 'pending'], ['profile', 'skipped']]);
      const claimed = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 100 });
      expect(claimed.filter((m) => m.eventId === older.eventId).map((m) => m.kind)).toEqual(['event']);
    });

    it('decides the profile records of one commit group in order, as it does across groups', async () => {
      const [newer, older, other, both] = [capillaryEvent(), capillaryEvent(), capillaryEvent(), capillaryEvent()];
      // Called in one turn: one commit group on either store.
      const results = await Promise.all([
        accept(newer, mapped(profile(newer.eventId, T0 + 100))),
        accept(older, mapped(outbound(older.eventId), profile(older.eventId, T0 + 50))),
        accept(other, mapped(profile(other.eventId, T0, 'cust-9:prog-2'))),
        accept(both, mapped(profile(both.eventId, T0 + 10), profile(both.eventId, T0 + 200))),
      ]);
      expect(results).toEqual([
        { outcome: 'accepted', skippedProfiles: 0 },
        { outcome: 'accepted', skippedProfiles: 1 },
        { outcome: 'accepted', skippedProfiles: 0 },
        { outcome: 'accepted', skippedProfiles: 1 },
      ]);
      expect((await store.getEvent(both.eventId))?.messages.map((m) => m.state)).toEqual(['skipped', 'pending']);
      // The key's newest time is the group's newest: a later commit's record older than it is skipped.
      const late = capillaryEvent();
      expect(await accept(late, mapped(profile(late.eventId, T0 + 150)))).toEqual({ outcome: 'accepted', skippedProfiles: 1 });
      const otherLate = capillaryEvent();
      expect(await accept(otherLate, mapped(profile(otherLate.eventId, T0 + 1, 'cust-9:prog-2')))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
    });

    it('skips a failed profile record at retry time once a newer one for the member was queued', async () => {
      const older = capillaryEvent({ createdAt: T0 });
      await accept(older, mapped(profile(older.eventId, T0)));
      const [first] = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 10 });
      const newer = capillaryEvent({ createdAt: T0 + 100 });
      await accept(newer, mapped(profile(newer.eventId, T0 + 100)));
      await store.settle('a', [{ id: first!.id, outcome: 'retry', nextAttemptAt: T0 + 1, error: 'http_503' }], T0);
      const view = await store.getEvent(older.eventId);
      expect(view?.messages[0]).toMatchObject({ state: 'skipped', deadReason: 'superseded_by_newer_profile', attempts: 1 });
      const due = await store.claimDue({ owner: 'a', now: T0 + 10, leaseMs: 60_000, limit: 10 });
      expect(due.map((m) => m.eventId)).toEqual([newer.eventId]);
    });

    it('replaces the messages of an unmapped event when it is re-mapped, unless one is in flight', async () => {
      const event = capillaryEvent({ eventName: 'laterMapped' });
      await accept(event, unmapped);
      expect(await store.listEventsForReplay({ mappingStatus: 'unmapped', limit: 10 })).toEqual([
        expect.objectContaining({ eventId: event.eventId, mappingStatus: 'unmapped', payload: expect.any(String) }),
      ]);
      expect(await store.replaceMessages(event.eventId, mapped(outbound(event.eventId)), T0 + 50)).toBe(true);
      expect(await store.listEventsForReplay({ mappingStatus: 'unmapped', limit: 10 })).toEqual([]);
      const [m] = await store.claimDue({ owner: 'a', now: T0 + 50, leaseMs: 60_000, limit: 10 });
      expect(m?.eventId).toBe(event.eventId);
      expect(await store.replaceMessages(event.eventId, mapped(outbound(event.eventId)), T0 + 60)).toBe(false);
      expect((await store.getEvent(event.eventId))?.messages).toHaveLength(1);
    });

    it('pages replay candidates by event id and finds given ids', async () => {
      const events = Array.from({ length: 3 }, (_, i) => capillaryEvent({ eventId: `replay-${i}`, eventName: 'x' }));
      for (const e of events) await accept(e, unmapped);
      const first = await store.listEventsForReplay({ mappingStatus: 'unmapped', limit: 2 });
      expect(first.map((e) => e.eventId)).toEqual(['replay-0', 'replay-1']);
      const rest = await store.listEventsForReplay({ mappingStatus: 'unmapped', limit: 2, afterEventId: 'replay-1' });
      expect(rest.map((e) => e.eventId)).toEqual(['replay-2']);
      const byId = await store.listEventsForReplay({ eventIds: ['replay-2', 'missing'], limit: 10 });
      expect(byId.map((e) => e.eventId)).toEqual(['replay-2']);
    });

    it('reports queue depth and the age of the oldest waiting message', async () => {
      const empty = await store.queueStats(T0);
      expect(empty).toEqual({ pending: 0, oldestPendingAgeMs: 0, deadLetters: 0 });
      await accept(capillaryEvent({ receivedAt: T0 }));
      await accept(capillaryEvent({ receivedAt: T0 + 500 }));
      expect(await store.queueStats(T0 + 2000)).toEqual({ pending: 2, oldestPendingAgeMs: 2000, deadLetters: 0 });
    });

    it('prunes delivered history past retention, keeping undelivered, dead and unmapped events', async () => {
      const delivered = capillaryEvent({ receivedAt: T0 });
      const pending = capillaryEvent({ receivedAt: T0 });
      const dead = capillaryEvent({ receivedAt: T0 });
      const notMapped = capillaryEvent({ receivedAt: T0, eventName: 'unknownYet' });
      const recent = capillaryEvent({ receivedAt: T0 + 10_000 });
      await accept(delivered);
      await accept(dead);
      await accept(pending);
      await accept(notMapped, unmapped);
      await accept(recent);
      const claimed = await store.claimDue({ owner: 'a', now: T0 + 10_000, leaseMs: 60_000, limit: 2 });
      await store.settle('a', [
        { id: claimed[0]!.id, outcome: 'delivered' },
        { id: claimed[1]!.id, outcome: 'dead', reason: 'invalid_xdm', error: 'x' },
      ], T0 + 10_000);

      const pruned = await store.prune(T0 + 5000);
      expect(pruned).toEqual({ events: 1, messages: 1 });
      expect(await store.getEvent(delivered.eventId)).toBeUndefined();
      for (const kept of [pending, dead, notMapped, recent]) expect(await store.getEvent(kept.eventId)).toBeDefined();
    });

    it('tells listeners when new work is queued', async () => {
      let calls = 0;
      const off = store.onWork(() => {
        calls += 1;
      });
      await accept();
      off();
      await accept();
      expect(calls).toBeGreaterThanOrEqual(1);
      const before = calls;
      await accept();
      expect(calls).toBe(before);
    });

    it('is writable while open and refuses work with StoreUnavailableError once closed', async () => {
      await expect(store.checkWritable()).resolves.toBeUndefined();
      const closing = await harness.open();
      await closing.close();
      await expect(closing.acceptEvent({ event: capillaryEvent(), payload: '{}', mapping: unmapped })).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(closing.checkWritable()).rejects.toBeInstanceOf(StoreUnavailableError);
      await closing.close();
    });
  });
}
