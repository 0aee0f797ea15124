import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MappingResult } from '../../src/mapping/types.js';
import type { Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound, type StoreHarness } from './store-contract.js';

const T0 = 1_750_000_000_000;
const LEASE_MS = 60_000;

/**
 * Routes in the store (issue 13), on every Store: each route's delivery claims only its own messages
 * (one brand's data never reaches another's sink, and one route's backlog is never in another's way),
 * sleeps until its own next due time, sees its own dead letters; a held event queues nothing until a
 * replay releases it, and then only to its own route.
 */
export function describeStoreRoutes(name: string, harness: StoreHarness): void {
  describe(`Store routes: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    /** One event of `route` (undefined: the environment's route) with one message, due at `receivedAt`. */
    const accept = async (route: string | undefined, options: { receivedAt?: number; held?: boolean; mapping?: (eventId: string) => MappingResult } = {}) => {
      const event = capillaryEvent({ receivedAt: options.receivedAt ?? T0 });
      const mapping = options.mapping?.(event.eventId) ?? mapped(outbound(event.eventId));
      const result = await store.acceptEvent({ event, payload: JSON.stringify({ eventId: event.eventId }), mapping, ...(route ? { route } : {}), ...(options.held ? { held: true } : {}) });
      expect(result.outcome).toBe('accepted');
      return event.eventId;
    };
    const claim = (route: string | undefined, now = T0 + 10_000, owner = `worker-${route ?? 'all'}`) =>
      store.claimDue({ owner, now, leaseMs: LEASE_MS, limit: 100, ...(route ? { route } : {}) });
    const eventIdsOf = (claimed: { eventId: string }[]) => claimed.map((m) => m.eventId).sort();

    it("claims for a route only that route's messages, never another's; `default` is the environment's route", async () => {
      const a = [await accept('brand-a'), await accept('brand-a')];
      const b = [await accept('brand-b'), await accept('brand-b'), await accept('brand-b')];
      const env = await accept(undefined);

      expect(eventIdsOf(await claim('brand-a'))).toEqual([...a].sort());
      // A's messages are leased; asking again for A finds nothing, not B's.
      expect(await claim('brand-a')).toEqual([]);
      expect(eventIdsOf(await claim('brand-b'))).toEqual([...b].sort());
      expect(await claim('brand-gone')).toEqual([]);
      expect(eventIdsOf(await claim('default'))).toEqual([env]);
    });

    it('gives each route its own next due time', async () => {
      const a = await accept('brand-a', { receivedAt: T0 + 100 });
      await accept('brand-b', { receivedAt: T0 + 200 });
      expect(await store.nextDueAt('brand-a')).toBe(T0 + 100);
      expect(await store.nextDueAt('brand-b')).toBe(T0 + 200);
      expect(await store.nextDueAt('brand-c')).toBeUndefined();
      expect(await store.nextDueAt()).toBe(T0 + 100);

      // A's message backs off (its Adobe is down): B's due time does not move.
      const [claimed] = await claim('brand-a', T0 + 100);
      expect(claimed?.eventId).toBe(a);
      await store.settle('worker-brand-a', [{ id: claimed!.id, outcome: 'retry', nextAttemptAt: T0 + 90_000, error: 'http_5xx: 503' }], T0 + 101);
      expect(await store.nextDueAt('brand-a')).toBe(T0 + 90_000);
      expect(await store.nextDueAt('brand-b')).toBe(T0 + 200);
    });

    it('keeps a held event with no message, out of every claim and of prune, until a replay releases it to its own route', async () => {
      // Even when handed a mapping, a held event queues nothing.
      const held = await accept('brand-a', { held: true });
      expect(await store.getEvent(held)).toMatchObject({ state: 'held', mappingStatus: 'held', route: 'brand-a', messages: [] });
      expect(await claim('brand-a')).toEqual([]);
      expect(await claim(undefined)).toEqual([]);
      expect(await store.nextDueAt('brand-a')).toBeUndefined();
      expect(await store.prune(T0 + 1_000_000)).toEqual({ events: 0, messages: 0 });
      expect(await store.getEvent(held)).toBeDefined();

      const listed = await store.listEventsForReplay({ mappingStatus: 'held', route: 'brand-a', limit: 10 });
      expect(listed.map((e) => ({ eventId: e.eventId, route: e.route, mappingStatus: e.mappingStatus }))).toEqual([{ eventId: held, route: 'brand-a', mappingStatus: 'held' }]);
      expect(await store.listEventsForReplay({ mappingStatus: 'held', route: 'brand-b', limit: 10 })).toEqual([]);

      // Released (the routes file now lists its org): queued to brand-a, whoever runs the replay.
      expect(await store.replaceMessages(held, mapped(outbound(held)), T0 + 5_000)).toBe(true);
      expect(await store.getEvent(held)).toMatchObject({ state: 'pending', mappingStatus: 'mapped', route: 'brand-a' });
      expect(await store.listEventsForReplay({ mappingStatus: 'held', limit: 10 })).toEqual([]);
      expect(await claim('brand-b')).toEqual([]);
      expect(eventIdsOf(await claim('brand-a'))).toEqual([held]);
    });

    it('lists dead letters by route, each with its route', async () => {
      const a = await accept('brand-a');
      const b = await accept('brand-b');
      const env = await accept(undefined);
      for (const route of ['brand-a', 'brand-b', 'default']) {
        const claimed = await claim(route);
        await store.settle(`worker-${route}`, claimed.map((m) => ({ id: m.id, outcome: 'dead' as const, reason: 'invalid_xdm', error: '400 bad field' })), T0 + 10_001);
      }
      const deadOf = async (route?: string) => (await store.listDeadLetters({ limit: 10, ...(route ? { route } : {}) })).map((d) => ({ eventId: d.eventId, route: d.route }));
      expect(await deadOf('brand-a')).toEqual([{ eventId: a, route: 'brand-a' }]);
      expect(await deadOf('brand-b')).toEqual([{ eventId: b, route: 'brand-b' }]);
      expect(await deadOf('default')).toEqual([{ eventId: env, route: 'default' }]);
      expect(await deadOf('brand-c')).toEqual([]);
      expect((await deadOf()).map((d) => d.eventId).sort()).toEqual([a, b, env].sort());
    });
  });
}
