/**
 * Child process for test/store/sqlite/durability.test.ts: stores `count` delivered events (in one
 * group commit), then prints PRUNE and prunes them all. The test counts the WAL syncs after the
 * marker. Usage: prune-events.ts <db path> <count>
 */
import { writeSync } from 'node:fs';
import { createSqliteStore } from '../../src/store/sqlite/store.js';

const [path, count] = process.argv.slice(2);
if (!path || !count) throw new Error('usage: prune-events.ts <db> <count>');
const store = createSqliteStore({ path, synchronous: 'full', checkpointIntervalMs: 0 });
const message = { kind: 'event' as const, payload: '{"x":1}', sourceCreatedAt: null };
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) => {
    const eventId = `prune-${i}`;
    return store.acceptEvent({
      event: { eventId, eventName: 'pointsIssued', createdAt: 0, receivedAt: i, orgId: '1', refId: undefined, apiRequestId: undefined, eventLogId: undefined, loyaltyEventId: undefined, envelope: 'flat', data: {} },
      payload: '{}',
      mapping: { status: 'mapped', messages: [message], warnings: [] },
    });
  }),
);
const claimed = await store.claimDue({ owner: 'w', now: Number(count), leaseMs: 60_000, limit: Number(count) });
await store.settle('w', claimed.map((m) => ({ id: m.id, outcome: 'delivered' as const })), Number(count));
// The marker goes to stderr, which strace shares: its write(2) line splits setup from prune.
writeSync(2, 'PRUNE\n');
const pruned = await store.prune(Number(count) * 2);
if (pruned.events !== Number(count) || pruned.messages !== Number(count)) throw new Error(`pruned ${JSON.stringify(pruned)}`);
await store.close();
