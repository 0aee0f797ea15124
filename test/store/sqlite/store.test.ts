import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../../src/store/sqlite/store.js';
import { acceptedPerMinuteSql, Params, placeholders, searchEventsSql } from '../../../src/store/shared/console-sql.js';
import { capillaryEvent, describeStoreContract, mapped, outbound, T0 } from '../store-contract.js';
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
  // received_at alone, one more entry per webhook, is gone; migration 11 folded the name index into it.
  it('reads events by acceptance time, and by name, through events_received_id alone', async () => {
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
      // Migration 11: the name filter walks the same index, which carries the name, newest first.
      expect(indexes).not.toContain('events_name_received');
      const byName = new Params('sqlite');
      const search = placeholders(searchEventsSql({ eventName: 'tierUpgraded', limit: 50 }, byName)!, 'sqlite');
      const namePlan = (db.prepare(`EXPLAIN QUERY PLAN ${search}`).all(...byName.values) as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(namePlan).toMatch(/SCAN e USING (COVERING )?INDEX events_received_id/);
    } finally {
      db.close();
    }
  });

  // Migration 10 (issue 21): a claim and a settlement rewrite a message's row, so its body, a
  // kilobyte and more of XDM, lives in message_bodies, written once. Rows written before keep theirs.
  it('keeps message bodies out of the rows claims and settlements rewrite, reads older rows whole, and drops bodies with their messages', async () => {
    const path = join(dir, 'bodies.db');
    const store = createSqliteStore({ path, synchronous: 'full' });
    const [kept, replaced, older] = [capillaryEvent(), capillaryEvent(), capillaryEvent()];
    for (const event of [kept, replaced, older]) await store.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) });
    const db = new Database(path);
    try {
      const rows = () => db.prepare('SELECT m.event_id AS eventId, m.body AS inRow, b.body AS stored FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id ORDER BY m.id').all() as { eventId: string; inRow: string; stored: string | null }[];
      expect(rows().map((r) => r.inRow)).toEqual(['', '', '']);
      expect(rows().map((r) => (JSON.parse(r.stored!) as { body: { xdmEntity: { _id: string } } }).body.xdmEntity._id)).toEqual([kept.eventId, replaced.eventId, older.eventId]);
      // A row as migration 9 wrote it: the body in the row, none in message_bodies.
      const olderRow = rows()[2]!;
      db.prepare("UPDATE messages SET body = ? WHERE event_id = ?").run(olderRow.stored, older.eventId);
      db.prepare('DELETE FROM message_bodies WHERE message_id = (SELECT id FROM messages WHERE event_id = ?)').run(older.eventId);

      const claimed = await store.claimDue({ owner: 'w', now: T0 + 10, leaseMs: 60_000, limit: 10 });
      expect(claimed.map((m) => (JSON.parse(m.body) as { body: { xdmEntity: { _id: string } } }).body.xdmEntity._id)).toEqual([kept.eventId, replaced.eventId, older.eventId]);
      await store.settle('w', claimed.map((m) => (m.eventId === kept.eventId ? { id: m.id, outcome: 'delivered' as const } : { id: m.id, outcome: 'dead' as const, reason: 'invalid', error: 'bad' })), T0 + 20);
      const dead = await store.listDeadLetters({ limit: 10 });
      expect(dead.map((d) => (d.message as { body: { xdmEntity: { _id: string } } }).body.xdmEntity._id)).toEqual([replaced.eventId, older.eventId]);
      expect(((await store.getEvent(older.eventId))!.messages[0]!.message as { body: { xdmEntity: { _id: string } } }).body.xdmEntity._id).toBe(older.eventId);

      // A replay replaces the dead message: its body goes with it, the new one is written once.
      expect(await store.replaceMessages(replaced.eventId, mapped(outbound(replaced.eventId)), T0 + 30)).toBe(true);
      // Prune takes the delivered event's message, and its body.
      expect(await store.prune(T0 + 5_000)).toEqual({ events: 1, messages: 1 });
      const left = rows();
      expect(left.map((r) => [r.eventId, r.inRow === '', r.stored !== null])).toEqual([[older.eventId, false, false], [replaced.eventId, true, true]]);
      expect((db.prepare('SELECT count(*) AS n FROM message_bodies').get() as { n: number }).n).toBe(1);
    } finally {
      db.close();
      await store.close();
    }
  });

  it('closing twice is harmless', async () => {
    const store = createSqliteStore({ path: join(dir, 'twice.db'), synchronous: 'full' });
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});
