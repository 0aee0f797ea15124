import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startRetention } from '../../src/store/retention.js';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import { waitFor } from '../helpers/wait-for.js';
import { capillaryEvent, mapped, outbound } from './store-contract.js';

describe('retention', () => {
  it('prunes delivered events past the window on its interval, and stops when asked', async () => {
    const store = createSqliteStore({ path: ':memory:', synchronous: 'normal' });
    const day = 86_400_000;
    const t0 = 1_750_000_000_000;
    const old = capillaryEvent({ receivedAt: t0 });
    await store.acceptEvent({ event: old, payload: '{}', mapping: mapped(outbound(old.eventId)) });
    const [m] = await store.claimDue({ owner: 'w', now: t0, leaseMs: 1000, limit: 1 });
    await store.settle('w', [{ id: m!.id, outcome: 'delivered' }], t0);

    const retention = startRetention({ store, logger: pino({ level: 'silent' }), retentionMs: 8 * day, intervalMs: 10, now: () => t0 + 9 * day });
    await waitFor(async () => (await store.getEvent(old.eventId)) === undefined, { what: 'the old delivered event to be pruned' });
    retention.stop();
    // Once pruned, the id is forgotten: a redelivery 9 days later is a new event (Capillary stops after 7).
    expect((await store.acceptEvent({ event: old, payload: '{}', mapping: mapped() })).outcome).toBe('accepted');
    await store.close();
  });
});
