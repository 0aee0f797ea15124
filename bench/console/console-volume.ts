/**
 * npm run bench:console [-- --store=sqlite|postgres] — the console's queries against 1,000,000 stored
 * events (issue 14, item 5), on both stores by default. Seeds each store through its own schema
 * (bench/console/console-seed.ts), then times each store call behind an admin route: median and p99 of RUNS
 * runs. Target: each within 200 ms. PostgreSQL is a throwaway server started here
 * (support/postgres-server.ts, PostgreSQL's default settings), removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startPostgresServer } from '../../support/postgres-server.js';
import { createPostgresStore } from '../../src/store/postgres/store.js';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { eventIdOf, seedPostgres, seedSqlite, type SeedShape } from './console-seed.js';

const EVENTS = Number(process.env['CONSOLE_BENCH_EVENTS'] ?? 1_000_000);
const RUNS = 21;
const NOW = Date.now();
const shape: SeedShape = { events: EVENTS, now: NOW };
const storeArg = process.argv.find((a) => a.startsWith('--store='))?.slice('--store='.length);
const stores = storeArg === undefined ? ['sqlite', 'postgres'] : [storeArg];
const logger = pino({ level: 'silent' });

async function seeded(what: string, seed: () => unknown): Promise<void> {
  const started = performance.now();
  await seed();
  console.log(`${what}: seeded ${EVENTS.toLocaleString('en')} events, messages and attempts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function measure(store: Store): Promise<void> {
  const mid = eventIdOf(Math.floor(EVENTS / 2));
  const firstPage = await store.searchEvents({ limit: 50 });
  const minute = Math.floor(NOW / 60_000) * 60_000;
  const cases: [string, () => Promise<unknown>][] = [
    ['GET /admin/events (newest, no filter)', () => store.searchEvents({ limit: 50 })],
    ['GET /admin/events (page 2, keyset)', () => store.searchEvents({ limit: 50, before: firstPage.next! })],
    ['GET /admin/events?q=<event id>', () => store.searchEvents({ text: mid, limit: 50 })],
    ['GET /admin/events?q=<customer id>', () => store.searchEvents({ text: '123456', limit: 50 })],
    ['GET /admin/events?name=tierUpgraded', () => store.searchEvents({ eventName: 'tierUpgraded', limit: 50 })],
    // The worst case of a name filter: a name no stored event has, so every event is looked at.
    ['GET /admin/events?name=<a name no event has>', () => store.searchEvents({ eventName: 'couponRedeemed', limit: 50 })],
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
  console.log('');
}

async function benchSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'console-bench-'));
  const path = join(dir, 'relay.db');
  try {
    createSqliteStore({ path, synchronous: 'normal', checkpointIntervalMs: 0 }).close();
    await seeded('SQLite', () => seedSqlite(path, shape));
    const store = createSqliteStore({ path, synchronous: 'normal' });
    await measure(store);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<void> {
  // fsync off only speeds the seeding; the bench times reads.
  const server = await startPostgresServer({ durable: false });
  try {
    const connectionString = server.url;
    await (await createPostgresStore({ connectionString, logger })).close();
    await seeded('PostgreSQL', () => seedPostgres(connectionString, shape));
    const store = await createPostgresStore({ connectionString, logger });
    await measure(store);
    await store.close();
  } finally {
    await server.destroy();
  }
}

for (const store of stores) {
  if (store === 'sqlite') await benchSqlite();
  else if (store === 'postgres') await benchPostgres();
  else throw new Error(`--store=${store}: expected sqlite or postgres`);
}
