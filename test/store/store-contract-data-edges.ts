import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MappingResult } from '../../src/mapping/types.js';
import type { Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound, type StoreHarness } from './store-contract.js';

const T0 = 1_750_000_000_000;

/**
 * Data edge cases every Store passes (issue 10 item 8): NUL in any text written, profile records with
 * no trustworthy source time, and dead-letter replay against the profile watermark.
 */
export function describeStoreDataEdges(name: string, harness: StoreHarness): void {
  describe(`Store data edges: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    const accept = (event = capillaryEvent(), mapping: MappingResult = mapped(outbound(event.eventId))) =>
      store.acceptEvent({ event, payload: JSON.stringify({ eventId: event.eventId, eventName: event.eventName }), mapping });
    const profile = (eventId: string, profileKey: string, sourceCreatedAt: number | null) =>
      outbound(eventId, { kind: 'profile', profileKey, sourceCreatedAt });

    it('writes NUL-bearing text in every column without failing: NULs dropped, the rest kept', async () => {
      const event = capillaryEvent({ eventId: 'nul\u0000-event', eventName: 'points\u0000Issued' });
      const message = profile('nul\u0000-event', 'cust\u0000-1:prog-1', T0);
      message.message.body.xdmEntity['note'] = 'a\u0000b';
      const result = await store.acceptEvent({ event, payload: '{"eventId":"nul\\u0000-event","x":"\u0000"}', mapping: mapped(outbound('nul-event'), message) });
      expect(result).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      // The same id with its NUL is the same event.
      expect(await accept(capillaryEvent({ eventId: 'nul-event' }))).toEqual({ outcome: 'duplicate' });

      const [first, second] = await store.claimDue({ owner: 'o\u0000wner', now: T0, leaseMs: 60_000, limit: 10 });
      expect(JSON.parse(second!.body).body.xdmEntity.note).toBe('a\u0000b'); // escaped inside JSON: kept
      await store.settle('o\u0000wner', [{ id: first!.id, outcome: 'retry', nextAttemptAt: T0 + 1, error: 'boom\u0000 503' }], T0);
      await store.settle('o\u0000wner', [{ id: second!.id, outcome: 'dead', reason: 'invalid\u0000_xdm', error: 'bad\u0000 field' }], T0);

      const view = await store.getEvent('nul\u0000-event');
      expect(view).toMatchObject({ eventId: 'nul-event', eventName: 'pointsIssued', payload: { eventId: 'nul\u0000-event', x: '' } });
      expect(view?.messages.map((m) => [m.state, m.lastError, m.deadReason])).toEqual([
        ['pending', 'boom 503', null],
        ['dead', 'bad field', 'invalid_xdm'],
      ]);
      expect(await store.listEventsForReplay({ eventIds: ['nul\u0000-event'], limit: 10 })).toHaveLength(1);
      expect(await store.replaceMessages('nul\u0000-event', mapped(profile('nul-event', 'cust\u0000-1:prog-1', T0 + 1)), T0 + 2)).toBe(true);
    });

    it('queues a profile record without a trustworthy source time: never skipped, and the watermark stays', async () => {
      const key = 'cust-untrusted:prog-1';
      const known = capillaryEvent();
      expect(await accept(known, mapped(profile(known.eventId, key, T0)))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      const untimed = capillaryEvent({ createdAt: undefined });
      expect(await accept(untimed, mapped(profile(untimed.eventId, key, null)))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      // The watermark is still T0: a record at T0 is not older than it, one at T0 - 1 is.
      const same = capillaryEvent();
      expect(await accept(same, mapped(profile(same.eventId, key, T0)))).toEqual({ outcome: 'accepted', skippedProfiles: 0 });
      const older = capillaryEvent();
      expect(await accept(older, mapped(profile(older.eventId, key, T0 - 1)))).toEqual({ outcome: 'accepted', skippedProfiles: 1 });

      // Retried after newer ones were queued, the untimed record is still sent (it cannot be ordered).
      const claimed = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 10 });
      const untimedMessage = claimed.find((m) => m.eventId === untimed.eventId)!;
      const newer = capillaryEvent();
      await accept(newer, mapped(profile(newer.eventId, key, T0 + 100)));
      await store.settle('a', [{ id: untimedMessage.id, outcome: 'retry', nextAttemptAt: T0 + 1, error: 'http_503' }], T0);
      expect((await store.getEvent(untimed.eventId))?.messages[0]).toMatchObject({ state: 'pending', attempts: 1 });
    });

    it('replaying a dead profile record skips it if a newer one for the member was queued since; replays it otherwise', async () => {
      const key = 'cust-replay:prog-1';
      const kill = async (eventId: string) => {
        const claimed = await store.claimDue({ owner: 'a', now: T0, leaseMs: 60_000, limit: 10 });
        const ids = claimed.filter((m) => m.eventId === eventId).map((m) => m.id);
        await store.settle('a', ids.map((id) => ({ id, outcome: 'dead' as const, reason: 'invalid_xdm', error: 'HTTP 400' })), T0);
        return ids;
      };
      const old = capillaryEvent();
      await accept(old, mapped(outbound(old.eventId), profile(old.eventId, key, T0)));
      const [oldEvent, oldProfile] = await kill(old.eventId);
      const newer = capillaryEvent();
      await accept(newer, mapped(profile(newer.eventId, key, T0 + 100)));

      // By id: the ExperienceEvent is replayed, the superseded profile record is skipped.
      expect(await store.replayDeadLetters([oldEvent!, oldProfile!], T0 + 10)).toBe(1);
      expect((await store.getEvent(old.eventId))?.messages.map((m) => [m.kind, m.state, m.deadReason])).toEqual([
        ['event', 'pending', null],
        ['profile', 'skipped', 'superseded_by_newer_profile'],
      ]);

      // 'all': of two dead records for the member, the newest is replayed and the older one skipped.
      const [newerProfile] = await kill(newer.eventId);
      const newest = capillaryEvent();
      await accept(newest, mapped(profile(newest.eventId, key, T0 + 200)));
      const [newestProfile] = await kill(newest.eventId);
      expect(await store.replayDeadLetters('all', T0 + 20)).toBe(1);
      expect((await store.getEvent(newest.eventId))?.messages[0]).toMatchObject({ id: newestProfile, state: 'pending' });
      expect((await store.getEvent(newer.eventId))?.messages[0]).toMatchObject({ id: newerProfile, state: 'skipped', deadReason: 'superseded_by_newer_profile' });
      expect(await store.listDeadLetters({ limit: 10 })).toHaveLength(0);
    });
  });
}
