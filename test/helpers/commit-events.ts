/**
 * Child process for test/store/sqlite/durability.test.ts: opens the SQLite store as the relay does
 * and commits `count` webhook events one at a time, so each is its own transaction (and, with
 * synchronous=FULL, its own fsync of the WAL). Usage: commit-events.ts <db path> <full|normal> <count>
 */
import { createSqliteStore } from '../../src/store/sqlite/store.js';

const [path, synchronous, count] = process.argv.slice(2);
if (!path || (synchronous !== 'full' && synchronous !== 'normal')) throw new Error('usage: commit-events.ts <db> <full|normal> <count>');
const store = createSqliteStore({ path, synchronous });
for (let i = 0; i < Number(count); i += 1) {
  const eventId = `durable-${i}`;
  await store.acceptEvent({
    event: { eventId, eventName: 'pointsIssued', createdAt: 0, receivedAt: 0, orgId: '1', refId: undefined, apiRequestId: undefined, eventLogId: undefined, loyaltyEventId: undefined, envelope: 'flat', data: {} },
    payload: '{}',
    mapping: { status: 'unmapped', messages: [], warnings: [] },
  });
}
await store.close();
