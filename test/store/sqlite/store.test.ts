import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../../src/store/sqlite/store.js';
import { acceptedPerMinuteSql, Params, placeholders } from '../../../src/store/shared/console-sql.js';
import { capillaryEvent, describeStoreContract, mapped, outbound } from '../store-contract.js';
import { describeStoreDataEdges } from '../store-contract-data-edges.js';
import { describeStoreConsole } from '../store-contract-console.js';
import { describeStoreRoutes } from '../store-contract-routes.js';
import { describeStoreChunks } from '../store-contract-chunks.js';
import { describeStoreAccounting } from '../store-contract-accounting.js';
import { describeAttemptRows } from '../store-attempt-rows.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreContract('SQLite', { open: async () => createSqliteStore({ path: join(dir, `contract-${++n}.db`), synchronous: 'full' }) });
describeStoreDataEdges('SQLite', { open: async () => createSqliteStore({ path: join(dir, `edges-${++n}.db`), synchronous: 'full' }) });
describeStoreConsole('SQLite', { open: async () => createSqliteStore({ path: join(dir, `console-${++n}.db`), synchronous: 'full' }) });
describeStoreRoutes('SQLite', { open: async () => createSqliteStore({ path: join(dir, `routes-${++n}.db`), synchronous: 'full' }) });
describeStoreChunks('SQLite', { open: async () => createSqliteStore({ path: join(dir, `chunks-${++n}.db`), synchronous: 'full' }) });
describeStoreAccounting('SQLite', { open: async () => createSqliteStore({ path: join(dir, `accounting-${++n}.db`), synchronous: 'full' }) });
describeAttemptRows('SQLite (migration 9)', async () => {
  const path = join(dir, `attempt-rows-${++n}.db`);
  return {
    store: createSqliteStore({ path, synchronous: 'full' }),
    async attemptRows() {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare('SELECT outcome FROM delivery_attempts ORDER BY id').all() as { outcome: string }[]).map((r) => r.outcome);
      } finally {
        db.close();
      }
    },
  };
});

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

  // Migration 8 (issue 21): every query by acceptance time reads events_received_id, so the index on
  // received_at alone, one more entry per webhook, is gone.
  it('reads events by acceptance time through events_received_id alone', async () => {
    const path = join(dir, 'indexes.db');
    await createSqliteStore({ path, synchronous: 'full' }).close();
    const db = new Database(path, { readonly: true });
    try {
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").all() as { name: string }[]).map((r) => r.name);
      expect(indexes).toContain('events_received_id');
      expect(indexes).not.toContain('events_received_at');
      const params = new Params('sqlite');
      const perMinute = placeholders(acceptedPerMinuteSql(0, 60_000, params), 'sqlite');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${perMinute}`).all(...params.values) as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan).toContain('COVERING INDEX events_received_id');
    } finally {
      db.close();
    }
  });

  it('closing twice is harmless', async () => {
    const store = createSqliteStore({ path: join(dir, 'twice.db'), synchronous: 'full' });
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});
