import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../../src/store/sqlite/store.js';
import { capillaryEvent, describeStoreContract, mapped, outbound } from '../store-contract.js';
import { describeStoreDataEdges } from '../store-contract-data-edges.js';
import { describeStoreConsole } from '../store-contract-console.js';
import { describeStoreRoutes } from '../store-contract-routes.js';
import { describeStoreChunks } from '../store-contract-chunks.js';
import { describeStoreAccounting } from '../store-contract-accounting.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreContract('SQLite', { open: async () => createSqliteStore({ path: join(dir, `contract-${++n}.db`), synchronous: 'full' }) });
describeStoreDataEdges('SQLite', { open: async () => createSqliteStore({ path: join(dir, `edges-${++n}.db`), synchronous: 'full' }) });
describeStoreConsole('SQLite', { open: async () => createSqliteStore({ path: join(dir, `console-${++n}.db`), synchronous: 'full' }) });
describeStoreRoutes('SQLite', { open: async () => createSqliteStore({ path: join(dir, `routes-${++n}.db`), synchronous: 'full' }) });
describeStoreChunks('SQLite', { open: async () => createSqliteStore({ path: join(dir, `chunks-${++n}.db`), synchronous: 'full' }) });
describeStoreAccounting('SQLite', { open: async () => createSqliteStore({ path: join(dir, `accounting-${++n}.db`), synchronous: 'full' }) });

describe('SQLite store specifics', () => {
  it('keeps committed events across a reopen of the same file (WAL)', async () => {
    const path = join(dir, 'reopen.db');
    const first = createSqliteStore({ path, synchronous: 'normal' });
    const event = capillaryEvent();
    await first.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) });
    await first.close();
    const second = createSqliteStore({ path, synchronous: 'normal' });
    expect((await second.getEvent(event.eventId))?.state).toBe('pending');
    expect((await second.acceptEvent({ event, payload: '{}', mapping: mapped() })).outcome).toBe('duplicate');
    await second.close();
  });

  it('groups concurrent accepts into one commit and answers each', async () => {
    const store = createSqliteStore({ path: join(dir, 'group.db'), synchronous: 'full' });
    const events = Array.from({ length: 200 }, () => capillaryEvent());
    const results = await Promise.all(events.map((event) => store.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) })));
    expect(results.every((r) => r.outcome === 'accepted')).toBe(true);
    expect((await store.queueStats(Date.now())).pending).toBe(200);
    await store.close();
  });

  it('closing twice is harmless', async () => {
    const store = createSqliteStore({ path: join(dir, 'twice.db'), synchronous: 'full' });
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});
