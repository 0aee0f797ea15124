import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MappingResult } from '../../src/mapping/types.js';
import { REJECTED_AFTER_ACCEPTANCE } from '../../src/store/accounting-types.js';
import type { Settlement, Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound, type StoreHarness } from './store-contract.js';

const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;

/**
 * What the accounting job (issue 17) asks of every Store: the relay's counts by route and time range
 * (events by acceptance, messages by Adobe's acknowledgement), the messages a failed Adobe record
 * points back to, the move of a delivered message to the dead letters (and nothing else), and the
 * job's own state: windows, runs, one lock holder.
 */
export function describeStoreAccounting(name: string, harness: StoreHarness): void {
  describe(`Store accounting: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
    });

    const profile = (eventId: string, key: string) => outbound(eventId, { kind: 'profile', profileKey: key, sourceCreatedAt: null });
    const accept = async (options: { route?: string; at?: number; customerId?: string; held?: boolean; mapping?: (id: string) => MappingResult } = {}) => {
      const event = capillaryEvent({ receivedAt: options.at ?? T0, data: options.customerId ? { customerIdentifiers: { customerId: options.customerId } } : {} });
      const mapping = options.mapping?.(event.eventId) ?? mapped(outbound(event.eventId));
      const result = await store.acceptEvent({ event, payload: '{}', mapping, ...(options.route ? { route: options.route } : {}), ...(options.held ? { held: true } : {}) });
      expect(result.outcome).toBe('accepted');
      return event.eventId;
    };
    /** Claims every due message of `route` and settles each as `outcome(eventId, kind)` says, at `at`. */
    const settleAll = async (route: string | undefined, at: number, outcome: (m: { eventId: string; kind: string }) => 'delivered' | 'dead' | 'keep') => {
      const claimed = await store.claimDue({ owner: 'w', now: at, leaseMs: 1, limit: 100, ...(route ? { route } : {}) });
      const settlements = claimed.flatMap((m): Settlement[] => {
        const o = outcome(m);
        if (o === 'keep') return [{ id: m.id, outcome: 'release' as const, nextAttemptAt: at + 10 * HOUR }];
        return o === 'delivered' ? [{ id: m.id, outcome: 'delivered' as const }] : [{ id: m.id, outcome: 'dead' as const, reason: 'invalid_xdm', error: '400: bad' }];
      });
      await store.settle('w', settlements, at);
      return claimed;
    };

    it('counts events by acceptance and messages by acknowledgement, per route, in [from, to)', async () => {
      const a1 = await accept({ route: 'brand-a', mapping: (id) => mapped(outbound(id), profile(id, `a:${id}`)) });
      await accept({ route: 'brand-a' });
      const dead = await accept({ route: 'brand-a' });
      await accept({ route: 'brand-a', held: true });
      await accept({ route: 'brand-a', mapping: () => ({ status: 'unmapped', messages: [], warnings: [] }) });
      await accept({ route: 'brand-a', at: T0 + HOUR });
      await accept({ route: 'brand-b' });
      await accept();
      await settleAll('brand-a', T0 + 10, (m) => (m.eventId === dead ? 'dead' : 'delivered'));
      await settleAll(undefined, T0 + 10, () => 'delivered');

      const a = await store.relayCounts({ route: 'brand-a', from: T0, to: T0 + HOUR });
      expect(a).toMatchObject({ accepted: 5, held: 1, unmapped: 1 });
      expect(a.messages).toEqual([
        { kind: 'event', delivered: 2, rejectedAfterAcceptance: 0, dead: 1 },
        { kind: 'profile', delivered: 1, rejectedAfterAcceptance: 0, dead: 0 },
      ]);
      // The event accepted an hour later counts in its own hour, its message (acknowledged at T0 + 10) in this one's.
      expect(await store.relayCounts({ route: 'brand-a', from: T0 + HOUR, to: T0 + 2 * HOUR })).toEqual({ accepted: 1, held: 0, unmapped: 0, messages: [] });
      expect(await store.relayCounts({ route: 'default', from: T0, to: T0 + HOUR })).toEqual({ accepted: 1, held: 0, unmapped: 0, messages: [{ kind: 'event', delivered: 1, rejectedAfterAcceptance: 0, dead: 0 }] });
      expect((await store.relayCounts({ route: 'brand-b', from: T0, to: T0 + HOUR })).accepted).toBe(1);
      expect(await store.relayCounts({ route: 'brand-a', from: T0 - HOUR, to: T0 })).toEqual({ accepted: 0, held: 0, unmapped: 0, messages: [] });
      void a1;
    });

    it('moves only delivered messages to the dead letters, keeps their acknowledgement time, adds a dead attempt, and replays them', async () => {
      const delivered = await accept({ route: 'brand-a' });
      const pending = await accept({ route: 'brand-a' });
      const otherRoute = await accept({ route: 'brand-b' });
      await settleAll('brand-a', T0 + 10, (m) => (m.eventId === pending ? 'keep' : 'delivered'));
      await settleAll('brand-b', T0 + 10, () => 'delivered');

      const found = await store.messagesOfEvents({ route: 'brand-a', kind: 'event', eventIds: [delivered, pending, otherRoute, 'nope'] });
      expect(found.map((m) => [m.eventId, m.state, m.settledAt])).toEqual([
        [delivered, 'delivered', T0 + 10],
        [pending, 'pending', null],
      ]);
      expect(await store.messagesOfEvents({ route: 'brand-a', kind: 'profile', eventIds: [delivered] })).toEqual([]);

      const error = 'extraneous key [points] is not permitted at #/loyalty/points';
      expect(await store.rejectAfterAcceptance(found.map((m) => ({ messageId: m.id, error })), T0 + HOUR)).toBe(1);
      // A second time changes nothing: the move is idempotent.
      expect(await store.rejectAfterAcceptance(found.map((m) => ({ messageId: m.id, error })), T0 + 2 * HOUR)).toBe(0);

      const view = await store.getEvent(delivered);
      expect(view).toMatchObject({ state: 'dead', messages: [{ state: 'dead', deadReason: REJECTED_AFTER_ACCEPTANCE, lastError: error }] });
      expect((await store.getEvent(pending))?.state).toBe('pending');
      const [letter] = await store.listDeadLetters({ limit: 10, route: 'brand-a' });
      expect(letter).toMatchObject({ eventId: delivered, reason: REJECTED_AFTER_ACCEPTANCE, error, deadAt: T0 + 10 });
      expect((await store.listAttempts(delivered)).map((a) => [a.outcome, a.at, a.error ?? null])).toEqual([['dead', T0 + HOUR, error]]);
      expect((await store.relayCounts({ route: 'brand-a', from: T0, to: T0 + HOUR })).messages).toEqual([{ kind: 'event', delivered: 0, rejectedAfterAcceptance: 1, dead: 0 }]);
      expect(await store.countDeadLetters({ reason: REJECTED_AFTER_ACCEPTANCE })).toBe(1);

      expect(await store.replayDeadLetters([letter!.id], T0 + 3 * HOUR)).toBe(1);
      expect((await store.getEvent(delivered))?.state).toBe('pending');
    });

    it("finds a customer's profile records acknowledged in a range, in its route only", async () => {
      const both = (id: string) => mapped(outbound(id), profile(id, `c-1:${id}`));
      const first = await accept({ route: 'brand-a', customerId: 'c-1', mapping: both });
      await accept({ route: 'brand-a', customerId: 'c-2', mapping: both });
      await accept({ route: 'brand-b', customerId: 'c-1', mapping: both });
      await settleAll('brand-a', T0 + 10, () => 'delivered');
      await settleAll('brand-b', T0 + 10, () => 'delivered');
      const late = await accept({ route: 'brand-a', customerId: 'c-1', at: T0 + HOUR, mapping: both });
      await settleAll('brand-a', T0 + HOUR + 10, () => 'delivered');

      const found = await store.profileMessagesOfCustomer({ route: 'brand-a', customerId: 'c-1', from: T0, to: T0 + HOUR });
      expect(found.map((m) => [m.eventId, m.kind, m.state])).toEqual([[first, 'profile', 'delivered']]);
      expect((await store.profileMessagesOfCustomer({ route: 'brand-a', customerId: 'c-1', from: T0, to: T0 + 2 * HOUR })).map((m) => m.eventId)).toEqual([first, late]);
      expect(await store.profileMessagesOfCustomer({ route: 'brand-a', customerId: 'c-9', from: T0, to: T0 + 2 * HOUR })).toEqual([]);
    });

    it('saves windows by route and start, replacing a window of another size that overlaps, and lists those overlapping a range', async () => {
      const day = 24 * HOUR;
      const save = (route: string, from: number, to: number, report: string, runId = 'r1') => store.saveAccountingWindow({ route, from, to, judgedAt: T0, runId, report });
      await save('brand-a', T0, T0 + HOUR, '{"n":1}');
      await save('brand-a', T0 + HOUR, T0 + 2 * HOUR, '{"n":2}');
      await save('brand-b', T0, T0 + HOUR, '{"n":3}');
      await save('brand-a', T0, T0 + HOUR, '{"n":4}', 'r2');
      expect((await store.listAccountingWindows({ route: 'brand-a', from: T0, to: T0 + day })).map((w) => [w.from, w.report, w.runId])).toEqual([
        [T0, '{"n":4}', 'r2'],
        [T0 + HOUR, '{"n":2}', 'r1'],
      ]);
      expect((await store.listAccountingWindows({ from: T0 + HOUR, to: T0 + 2 * HOUR })).map((w) => [w.route, w.from])).toEqual([['brand-a', T0 + HOUR]]);
      // Granularity changed from hours to a day: the day replaces the hours it covers.
      await save('brand-a', T0, T0 + day, '{"n":5}');
      expect((await store.listAccountingWindows({ route: 'brand-a', from: T0, to: T0 + day })).map((w) => [w.from, w.to])).toEqual([[T0, T0 + day]]);
      expect((await store.listAccountingWindows({ from: T0, to: T0 + day })).map((w) => w.route)).toEqual(['brand-a', 'brand-b']);
    });

    it('keeps runs: the newest one, unfinished until finished; finishing forgets older runs and windows', async () => {
      expect(await store.latestAccountingRun()).toBeUndefined();
      await store.startAccountingRun({ runId: 'run-1', startedAt: T0, params: '{}' });
      await store.finishAccountingRun('run-1', T0 + 5, 0);
      await store.startAccountingRun({ runId: 'run-2', startedAt: T0 + 10, params: '{"route":"a"}' });
      expect(await store.latestAccountingRun()).toEqual({ runId: 'run-2', startedAt: T0 + 10, params: '{"route":"a"}', finishedAt: null });
      await store.saveAccountingWindow({ route: 'a', from: T0 - 9 * 24 * HOUR, to: T0 - 8 * 24 * HOUR, judgedAt: T0, runId: 'run-2', report: '{}' });
      await store.saveAccountingWindow({ route: 'a', from: T0, to: T0 + HOUR, judgedAt: T0, runId: 'run-2', report: '{}' });
      await store.finishAccountingRun('run-2', T0 + 20, T0 - 7 * 24 * HOUR);
      expect(await store.latestAccountingRun()).toEqual({ runId: 'run-2', startedAt: T0 + 10, params: '{"route":"a"}', finishedAt: T0 + 20 });
      expect((await store.listAccountingWindows({ from: 0, to: T0 + HOUR })).map((w) => w.from)).toEqual([T0]);
    });

    it('has one lock holder at a time', async () => {
      expect(await store.acquireAccountingLock('a')).toBe(true);
      expect(await store.acquireAccountingLock('a')).toBe(true);
      expect(await store.acquireAccountingLock('b')).toBe(false);
      await store.releaseAccountingLock('b');
      expect(await store.acquireAccountingLock('b')).toBe(false);
      await store.releaseAccountingLock('a');
      expect(await store.acquireAccountingLock('b')).toBe(true);
      await store.releaseAccountingLock('b');
    });
  });
}
