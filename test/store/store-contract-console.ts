import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ATTEMPTS_KEPT_PER_MESSAGE, type AttemptDetail } from '../../src/store/console-types.js';
import type { MappingResult } from '../../src/mapping/types.js';
import type { Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound, type StoreHarness } from './store-contract.js';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;

/**
 * What the operator console asks of every Store (issue 14): attempt histories, bounded and pruned
 * with their event; events searchable by id, customer, name, state and time, keyset-paged; dead
 * letters grouped and filtered by reason; per-minute activity.
 */
export function describeStoreConsole(name: string, harness: StoreHarness): void {
  describe(`Store console queries: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    const accept = async (overrides: Parameters<typeof capillaryEvent>[0] = {}, mapping?: MappingResult) => {
      const event = capillaryEvent(overrides);
      await store.acceptEvent({ event, payload: JSON.stringify({ eventId: event.eventId }), mapping: mapping ?? mapped(outbound(event.eventId)) });
      return event;
    };
    const attempt = (at: number, more: Partial<AttemptDetail> = {}): AttemptDetail => ({ at, durationMs: 12, status: 200, batchSize: 3, ...more });
    const claimOne = async (now: number) => {
      const [claimed] = await store.claimDue({ owner: 'w', now, leaseMs: 30_000, limit: 1 });
      if (!claimed) throw new Error('nothing due');
      return claimed;
    };

    it('records every attempt with its status, duration, batch size and Adobe answer, oldest first', async () => {
      const event = await accept();
      let claimed = await claimOne(T0);
      await store.settle('w', [{ id: claimed.id, outcome: 'retry', nextAttemptAt: T0 + 1, error: 'http_5xx: HTTP 503', attempt: attempt(T0, { status: 503, error: 'HTTP 503: busy' }) }], T0);
      claimed = await claimOne(T0 + 1);
      await store.settle('w', [{ id: claimed.id, outcome: 'retry', nextAttemptAt: T0 + 2, error: 'network: ECONNRESET', attempt: attempt(T0 + 1, { status: null, error: 'ECONNRESET' }) }], T0 + 1);
      claimed = await claimOne(T0 + 2);
      await store.settle('w', [{ id: claimed.id, outcome: 'delivered', attempt: attempt(T0 + 2, { xactionId: 'x-1' }) }], T0 + 2);

      const attempts = await store.listAttempts(event.eventId);
      expect(attempts).toEqual([
        { messageId: claimed.id, outcome: 'retry', at: T0, durationMs: 12, status: 503, batchSize: 3, error: 'HTTP 503: busy' },
        { messageId: claimed.id, outcome: 'retry', at: T0 + 1, durationMs: 12, status: null, batchSize: 3, error: 'ECONNRESET' },
        { messageId: claimed.id, outcome: 'delivered', at: T0 + 2, durationMs: 12, status: 200, batchSize: 3, xactionId: 'x-1' },
      ]);
      expect(await store.listAttempts('no-such-event')).toEqual([]);
    });

    it(`keeps the newest ${ATTEMPTS_KEPT_PER_MESSAGE} attempts of a message`, async () => {
      const event = await accept();
      const total = ATTEMPTS_KEPT_PER_MESSAGE + 5;
      for (let i = 0; i < total; i += 1) {
        const claimed = await claimOne(T0 + i);
        await store.settle('w', [{ id: claimed.id, outcome: 'retry', nextAttemptAt: T0 + i + 1, error: `e${i}`, attempt: attempt(T0 + i, { status: 500, error: `e${i}` }) }], T0 + i);
      }
      const attempts = await store.listAttempts(event.eventId);
      expect(attempts).toHaveLength(ATTEMPTS_KEPT_PER_MESSAGE);
      expect(attempts[0]!.error).toBe(`e${total - ATTEMPTS_KEPT_PER_MESSAGE}`);
      expect(attempts.at(-1)!.error).toBe(`e${total - 1}`);
    });

    it('prunes attempts with their event, and keeps those of events that stay', async () => {
      const old = await accept({ receivedAt: T0 });
      const kept = await accept({ receivedAt: T0 + 10 * MINUTE });
      for (const now of [T0, T0 + 10 * MINUTE]) {
        const claimed = await claimOne(now);
        await store.settle('w', [{ id: claimed.id, outcome: 'delivered', attempt: attempt(now) }], now);
      }
      await store.prune(T0 + MINUTE);
      expect(await store.getEvent(old.eventId)).toBeUndefined();
      expect(await store.listAttempts(old.eventId)).toEqual([]);
      expect(await store.listAttempts(kept.eventId)).toHaveLength(1);
    });

    it('finds an event by its id or its customer id, newest first', async () => {
      const customer = { customerIdentifiers: { customerId: 387979652 } };
      const first = await accept({ receivedAt: T0, data: customer });
      const second = await accept({ receivedAt: T0 + 1, data: customer });
      await accept({ receivedAt: T0 + 2, data: { customerIdentifiers: { customerId: 5 } } });

      const byId = await store.searchEvents({ text: first.eventId, limit: 10 });
      expect(byId.items).toEqual([{ eventId: first.eventId, eventName: 'pointsIssued', customerId: '387979652', route: null, receivedAt: T0, state: 'pending' }]);
      const byCustomer = await store.searchEvents({ text: '387979652', limit: 10 });
      expect(byCustomer.items.map((e) => e.eventId)).toEqual([second.eventId, first.eventId]);
      expect((await store.searchEvents({ text: 'nobody', limit: 10 })).items).toEqual([]);
    });

    it('filters by name, time range and state, and pages by keyset without gaps or repeats', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i += 1) ids.push((await accept({ receivedAt: T0 + i, eventName: i % 2 === 0 ? 'pointsIssued' : 'tierUpgraded' })).eventId);
      const named = await store.searchEvents({ eventName: 'tierUpgraded', limit: 10 });
      expect(named.items.map((e) => e.eventId)).toEqual([ids[5], ids[3], ids[1]]);
      const ranged = await store.searchEvents({ from: T0 + 2, to: T0 + 4, limit: 10 });
      expect(ranged.items.map((e) => e.eventId)).toEqual([ids[3], ids[2]]);

      const pages: string[] = [];
      let before: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const result = await store.searchEvents({ limit: 3, ...(before ? { before } : {}) });
        pages.push(...result.items.map((e) => e.eventId));
        if (!result.next) break;
        before = result.next;
      }
      expect(pages).toEqual([...ids].reverse());
      expect((await store.searchEvents({ limit: 3, before: 'not a cursor' })).items).toEqual([]);
    });

    it('filters by derived state: pending, delivered, dead, unmapped', async () => {
      const delivered = await accept({ receivedAt: T0 });
      const dead = await accept({ receivedAt: T0 + 1 });
      const unmappedEvent = await accept({ receivedAt: T0 + 2 }, { status: 'unmapped', messages: [], warnings: [] });
      const claimed = await store.claimDue({ owner: 'w', now: T0 + 5, leaseMs: 30_000, limit: 10 });
      const byEvent = new Map(claimed.map((c) => [c.eventId, c.id]));
      await store.settle('w', [
        { id: byEvent.get(delivered.eventId)!, outcome: 'delivered' },
        { id: byEvent.get(dead.eventId)!, outcome: 'dead', reason: 'invalid_xdm', error: '400' },
      ], T0 + 5);
      const pending = await accept({ receivedAt: T0 + 3 });
      const ids = async (state: 'pending' | 'delivered' | 'dead' | 'unmapped') => (await store.searchEvents({ state, limit: 10 })).items.map((e) => e.eventId);
      expect(await ids('pending')).toEqual([pending.eventId]);
      expect(await ids('delivered')).toEqual([delivered.eventId]);
      expect(await ids('dead')).toEqual([dead.eventId]);
      expect(await ids('unmapped')).toEqual([unmappedEvent.eventId]);
    });

    it('derives a state filter from all of an event\'s messages, as its own state: delivered and dead is dead; none is no_output', async () => {
      const mixed = capillaryEvent({ receivedAt: T0 });
      await store.acceptEvent({ event: mixed, payload: '{}', mapping: mapped(outbound(`${mixed.eventId}-a`), outbound(`${mixed.eventId}-b`)) });
      const nothing = await accept({ receivedAt: T0 + 1 }, mapped());
      const claimed = await store.claimDue({ owner: 'w', now: T0 + 5, leaseMs: 30_000, limit: 10 });
      expect(claimed).toHaveLength(2);
      await store.settle('w', [
        { id: claimed[0]!.id, outcome: 'delivered' },
        { id: claimed[1]!.id, outcome: 'dead', reason: 'invalid_xdm', error: '400' },
      ], T0 + 5);
      const search = async (state: 'delivered' | 'dead' | 'no_output') => (await store.searchEvents({ state, limit: 10 })).items.map((e) => [e.eventId, e.state]);
      expect(await search('dead')).toEqual([[mixed.eventId, 'dead']]);
      expect(await search('delivered')).toEqual([]);
      expect(await search('no_output')).toEqual([[nothing.eventId, 'no_output']]);
      expect((await store.getEvent(mixed.eventId))?.state).toBe('dead');
    });

    it('groups dead letters by reason, filters them by reason and time, and counts what a filter covers', async () => {
      const events = [];
      for (let i = 0; i < 4; i += 1) events.push(await accept());
      const claimed = await store.claimDue({ owner: 'w', now: T0, leaseMs: 30_000, limit: 10 });
      await store.settle('w', claimed.slice(0, 3).map((c) => ({ id: c.id, outcome: 'dead' as const, reason: 'invalid_xdm', error: '400' })), T0 + MINUTE);
      await store.settle('w', [{ id: claimed[3]!.id, outcome: 'dead', reason: 'too_large', error: '413' }], T0 + 2 * MINUTE);

      expect(await store.deadLetterGroups({})).toEqual([
        { reason: 'invalid_xdm', count: 3, oldestAt: T0 + MINUTE, newestAt: T0 + MINUTE },
        { reason: 'too_large', count: 1, oldestAt: T0 + 2 * MINUTE, newestAt: T0 + 2 * MINUTE },
      ]);
      expect(await store.deadLetterGroups({ from: T0 + 2 * MINUTE })).toEqual([{ reason: 'too_large', count: 1, oldestAt: T0 + 2 * MINUTE, newestAt: T0 + 2 * MINUTE }]);
      expect(await store.countDeadLetters({ reason: 'invalid_xdm' })).toBe(3);
      expect(await store.countDeadLetters({ reason: 'invalid_xdm', to: T0 + MINUTE })).toBe(0);
      const page = await store.listDeadLettersFiltered({ reason: 'invalid_xdm', limit: 2 });
      expect(page.map((d) => d.id)).toEqual([claimed[0]!.id, claimed[1]!.id]);
      const rest = await store.listDeadLettersFiltered({ reason: 'invalid_xdm', limit: 2, afterId: page[1]!.id });
      expect(rest.map((d) => d.id)).toEqual([claimed[2]!.id]);
    });

    it('counts accepted events and delivered messages per minute, every minute of the range present', async () => {
      await accept({ receivedAt: T0 });
      await accept({ receivedAt: T0 + 1000 });
      await accept({ receivedAt: T0 + 2 * MINUTE });
      const claimed = await store.claimDue({ owner: 'w', now: T0 + 3 * MINUTE, leaseMs: 30_000, limit: 10 });
      expect(claimed).toHaveLength(3);
      await store.settle('w', claimed.map((c) => ({ id: c.id, outcome: 'delivered' as const, attempt: attempt(T0 + MINUTE + 5) })), T0 + MINUTE + 5);
      const start = Math.floor(T0 / MINUTE) * MINUTE;
      const activity = await store.activity(start, start + 3 * MINUTE);
      expect(activity).toEqual([
        { minute: start, accepted: 2, delivered: 0 },
        { minute: start + MINUTE, accepted: 0, delivered: 3 },
        { minute: start + 2 * MINUTE, accepted: 1, delivered: 0 },
      ]);
    });
  });
}
