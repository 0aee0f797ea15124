/**
 * npm run bench:console — the console's queries against 1,000,000 stored events (issue 14, item 5).
 * Seeds a SQLite store through its own schema (multi-row inserts in one transaction), then times each
 * store call behind an admin route: median and p99 of RUNS runs. Target: each within 200 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../src/store/sqlite-store.js';

const EVENTS = Number(process.env['CONSOLE_BENCH_EVENTS'] ?? 1_000_000);
const RUNS = 21;
const ROWS_PER_INSERT = 500;
const NOW = Date.now();
const SPAN_MS = 7 * 24 * 3_600_000; // a week of history
const REASONS = ['invalid_xdm', 'too_large', 'expired'];

const dir = mkdtempSync(join(tmpdir(), 'console-bench-'));
const path = join(dir, 'relay.db');

function seed(): void {
  createSqliteStore({ path, synchronous: 'normal', checkpointIntervalMs: 0 }).close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insertMany = (table: string, columns: string[], rows: unknown[][]) => {
    const one = `(${columns.map(() => '?').join(',')})`;
    db.prepare(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${rows.map(() => one).join(',')}`).run(...rows.flat());
  };
  const started = performance.now();
  db.transaction(() => {
    for (let base = 0; base < EVENTS; base += ROWS_PER_INSERT) {
      const events: unknown[][] = [];
      const messages: unknown[][] = [];
      const attempts: unknown[][] = [];
      for (let i = base; i < Math.min(EVENTS, base + ROWS_PER_INSERT); i += 1) {
        const id = `evt-${i.toString().padStart(8, '0')}`;
        const at = NOW - SPAN_MS + Math.floor((i / EVENTS) * SPAN_MS);
        const name = ['pointsIssued', 'transactionAdded', 'tierUpgraded', 'rewardIssued'][i % 4]!;
        const customer = String(100_000 + (i % 50_000));
        const payload = JSON.stringify({ eventId: id, eventName: name, data: { customerIdentifiers: { customerId: Number(customer) } } });
        events.push([id, name, 'flat', at, at, 'mapped', payload, customer]);
        const dead = i % 200 === 7; // 0.5% dead letters
        const pending = i >= EVENTS - 2_000; // the newest are still queued
        const state = dead ? 'dead' : pending ? 'pending' : 'delivered';
        const body = JSON.stringify({ header: { datasetId: 'ds' }, body: { xdmEntity: { _id: id } } });
        messages.push([i + 1, id, 'event', body, state, pending ? 0 : 1, at, at, dead ? REASONS[i % 3]! : null, pending ? null : at + 150, dead ? '400: invalid' : null]);
        if (!pending) attempts.push([i + 1, id, at + 100, 40, dead ? 207 : 200, 50, dead ? 'dead' : 'delivered', dead ? null : `x-${i}`, dead ? '400: invalid' : null]);
      }
      insertMany('events', ['event_id', 'event_name', 'envelope', 'created_at', 'received_at', 'mapping_status', 'payload', 'customer_id'], events);
      insertMany('messages', ['id', 'event_id', 'kind', 'body', 'state', 'attempts', 'next_attempt_at', 'accepted_at', 'dead_reason', 'settled_at', 'last_error'], messages);
      if (attempts.length > 0) insertMany('delivery_attempts', ['message_id', 'event_id', 'at', 'duration_ms', 'status', 'batch_size', 'outcome', 'xaction_id', 'error'], attempts);
    }
  })();
  db.exec('ANALYZE');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.log(`seeded ${EVENTS.toLocaleString('en')} events, messages and attempts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  seed();
  const store = createSqliteStore({ path, synchronous: 'normal' });
  const mid = `evt-${Math.floor(EVENTS / 2).toString().padStart(8, '0')}`;
  const firstPage = await store.searchEvents({ limit: 50 });
  const minute = Math.floor(NOW / 60_000) * 60_000;
  const cases: [string, () => Promise<unknown>][] = [
    ['GET /admin/events (newest, no filter)', () => store.searchEvents({ limit: 50 })],
    ['GET /admin/events (page 2, keyset)', () => store.searchEvents({ limit: 50, before: firstPage.next! })],
    ['GET /admin/events?q=<event id>', () => store.searchEvents({ text: mid, limit: 50 })],
    ['GET /admin/events?q=<customer id>', () => store.searchEvents({ text: '123456', limit: 50 })],
    ['GET /admin/events?name=tierUpgraded', () => store.searchEvents({ eventName: 'tierUpgraded', limit: 50 })],
    ['GET /admin/events?name=…&from=…&to=… (1 day)', () => store.searchEvents({ eventName: 'rewardIssued', from: NOW - 3 * 86_400_000, to: NOW - 2 * 86_400_000, limit: 50 })],
    ['GET /admin/events?state=dead', () => store.searchEvents({ state: 'dead', limit: 50 })],
    ['GET /admin/events?state=pending', () => store.searchEvents({ state: 'pending', limit: 50 })],
    ['GET /admin/events?state=delivered', () => store.searchEvents({ state: 'delivered', limit: 50 })],
    ['GET /admin/events?state=delivered&from=…&to=…', () => store.searchEvents({ state: 'delivered', from: NOW - 3 * 86_400_000, to: NOW - 2 * 86_400_000, limit: 50 })],
    ['GET /admin/events/{id}', () => store.getEvent(mid)],
    ['GET /admin/events/{id}/attempts', () => store.listAttempts(mid)],
    ['GET /admin/dead-letters/groups', () => store.deadLetterGroups({})],
    ['GET /admin/dead-letters/search?reason=too_large', () => store.listDeadLettersFiltered({ reason: 'too_large', limit: 100 })],
    ['count for "Replay all shown" (reason)', () => store.countDeadLetters({ reason: 'invalid_xdm' })],
    ['GET /admin/summary (queue, activity, groups)', () => Promise.all([store.queueStats(NOW), store.activity(minute - 3_540_000, minute + 60_000), store.deadLetterGroups({})])],
  ];
  console.log('\n| Call | median ms | p99 ms |\n|---|---:|---:|');
  for (const [name, run] of cases) {
    await run(); // warm the statement cache and pages
    const times: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const t = performance.now();
      await run();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const p = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    console.log(`| ${name} | ${p(0.5).toFixed(1)} | ${p(0.99).toFixed(1)} |`);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
