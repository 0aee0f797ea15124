import { describe, expect, it } from 'vitest';
import type { AttemptDetail, Store } from '../../src/store/types.js';
import { capillaryEvent, mapped, outbound } from './store-contract.js';

/**
 * How each engine keeps attempts (SQLite migration 9, PostgreSQL 10, issue 21): a delivery that
 * succeeds is recorded on its message row, costing its settlement no attempts row, index entries or
 * trim; failed attempts keep their rows, and so does a delivery whose lease was lost, so no attempt
 * made goes unrecorded. The console contract (store-contract-console.ts) holds what callers see;
 * this holds where it is written.
 */
export function describeAttemptRows(name: string, open: () => Promise<{ store: Store; attemptRows(): Promise<string[]> }>) {
  describe(`${name}: where attempts are written`, () => {
    it('records a successful delivery on its message row, failed attempts and lost leases as attempt rows', async () => {
      const { store, attemptRows } = await open();
      try {
        const detail = (at: number): AttemptDetail => ({ at, durationMs: 7, status: 200, batchSize: 2, xactionId: `x-${at}` });
        for (const event of [capillaryEvent(), capillaryEvent()]) await store.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) });
        const [a, b] = await store.claimDue({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 2 });
        await store.settle('w', [{ id: a!.id, outcome: 'retry', nextAttemptAt: 0, error: 'http_5xx: 503', attempt: { ...detail(1), status: 503, error: 'busy' } }], 1);
        await store.settle('w', [{ id: b!.id, outcome: 'delivered', attempt: detail(2) }], 2);
        expect(await attemptRows()).toEqual(['retry']);
        expect(await store.listAttempts(b!.eventId)).toEqual([{ messageId: b!.id, outcome: 'delivered', at: 2, durationMs: 7, status: 200, batchSize: 2, xactionId: 'x-2' }]);

        const [again] = await store.claimDue({ owner: 'w', now: Date.now(), leaseMs: 60_000, limit: 1 });
        // Another owner settles a message it no longer holds: the row stays as it was, the attempt is kept as a row.
        await store.settle('someone-else', [{ id: again!.id, outcome: 'delivered', attempt: detail(3) }], 3);
        expect(await attemptRows()).toEqual(['retry', 'delivered']);
        await store.settle('w', [{ id: again!.id, outcome: 'delivered', attempt: detail(4) }], 4);
        expect((await store.listAttempts(again!.eventId)).map((x) => [x.outcome, x.at])).toEqual([['retry', 1], ['delivered', 3], ['delivered', 4]]);
        expect(await attemptRows()).toHaveLength(2);
        const activity = await store.activity(0, 60_000);
        expect(activity[0]).toMatchObject({ minute: 0, delivered: 3 });
      } finally {
        await store.close();
      }
    });
  });
}
