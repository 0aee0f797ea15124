import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound, type StoreHarness } from './store-contract.js';

const T0 = 1_760_000_000_000;
/** More than two chunks of the largest size (CHUNK_MAX_ROWS on SQLite, PRUNE_CHUNK_ROWS on PostgreSQL) of each kind. */
const COUNT = 2_500;

/**
 * Long store jobs in bounded chunks (issue 12): prune and the replay of every dead letter give the
 * same answers across several chunks as one statement did, chunk boundaries included.
 */
export function describeStoreChunks(name: string, harness: StoreHarness): void {
  describe(`Store long jobs in chunks: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('prunes and replays dead letters past several chunks, keeping superseded profile records dead-skipped', async () => {
      // Half delivered, half dead, interleaved, so every chunk holds both.
      const events = Array.from({ length: COUNT * 2 }, (_, i) => capillaryEvent({ receivedAt: T0 + i }));
      await Promise.all(events.map((event) => store.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) })));
      // A dead profile record whose member then gets a newer one: replaying it would overwrite newer state.
      const older = capillaryEvent({ receivedAt: T0 + COUNT * 2 });
      await store.acceptEvent({ event: older, payload: '{}', mapping: mapped(outbound(older.eventId, { kind: 'profile', profileKey: 'member-1', sourceCreatedAt: T0 })) });
      const claimed = await store.claimDue({ owner: 'w', now: T0 + COUNT * 3, leaseMs: 60_000, limit: COUNT * 2 + 1 });
      expect(claimed).toHaveLength(COUNT * 2 + 1);
      // By the event's place (a PostgreSQL group commit's ids need not follow it): even ones delivered.
      const place = new Map(events.map((event, i) => [event.eventId, i]));
      await store.settle(
        'w',
        claimed.map((m) => ((place.get(m.eventId) ?? 1) % 2 === 0 ? { id: m.id, outcome: 'delivered' as const } : { id: m.id, outcome: 'dead' as const, reason: 'invalid_xdm', error: 'x' })),
        T0 + COUNT * 3,
      );
      const newer = capillaryEvent({ receivedAt: T0 + COUNT * 3 });
      await store.acceptEvent({ event: newer, payload: '{}', mapping: mapped(outbound(newer.eventId, { kind: 'profile', profileKey: 'member-1', sourceCreatedAt: T0 + 1 })) });

      expect(await store.prune(T0 + COUNT * 3)).toEqual({ events: COUNT, messages: COUNT });
      expect(await store.getEvent(events[0]!.eventId)).toBeUndefined();
      expect(await store.getEvent(events[1]!.eventId)).toBeDefined();
      expect((await store.queueStats(T0)).deadLetters).toBe(COUNT + 1);

      expect(await store.replayDeadLetters('all', T0 + COUNT * 4)).toBe(COUNT);
      expect(await store.queueStats(T0 + COUNT * 4)).toMatchObject({ pending: COUNT + 1, deadLetters: 0 });
      expect((await store.getEvent(older.eventId))?.messages[0]).toMatchObject({ state: 'skipped', deadReason: 'superseded_by_newer_profile' });
      // The skipped record is history now, and goes with the next prune; the re-queued ones stay.
      expect(await store.prune(T0 + COUNT * 4)).toEqual({ events: 1, messages: 1 });
    });
  });
}
