/**
 * `npm run bench:wal-pages`: which tables and indexes the SQLite engine's WAL frames come from, per
 * webhook, in process (no thread, no HTTP). Every page a commit dirties is written to the WAL as one
 * frame of a page (two write(2) calls) and later copied into the database file by a checkpoint, so
 * frames are what the store's kernel time and the checkpoint thread's CPU follow. Accepts webhooks in
 * commits of `--turn` (default 24, about what the relay's groups hold under load), claims and settles
 * 500 at a time as delivered, with a reader holding its snapshot so that no frame is overwritten;
 * then reads the WAL's frame headers and names each page from the dbstat table.
 *
 *   npm run bench:wal-pages -- [--events=10000] [--turn=24]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapEvent } from '../../src/mapping/map-event.js';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import { DEFAULT_ROUTE, type NewEvent, type Settlement } from '../../src/store/types.js';
import { IN_PROCESS_MAPPING, sampleEvents } from '../mapping/sample-events.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const events = Number(arg('events') ?? 10_000);
const turn = Number(arg('turn') ?? 24);
/** Webhooks first committed and checkpointed away, so the measured part writes into a store with history. */
const warmup = Math.floor(events / 5);
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

const dir = mkdtempSync(join(tmpdir(), 'wal-pages-'));
const path = join(dir, 'relay.db');
// No checkpoint thread: the WAL must keep every frame the measured part writes.
const store = createSqliteStore({ path, synchronous: 'full', checkpointIntervalMs: 0 });
const inputs: NewEvent[] = sampleEvents(events, 'wal', Date.now).map(({ event, payload }) => ({ event, payload, mapping: mapEvent(event, IN_PROCESS_MAPPING) }));

let next = 0;
const acceptUpTo = async (end: number) => {
  for (; next < end; next += turn) {
    await Promise.all(inputs.slice(next, next + turn).map((input) => store.acceptEvent(input)));
    // Claim and settle once about 500 webhooks are in, as the relay's delivery does under load.
    if (Math.floor((next + turn) / 500) > Math.floor(next / 500)) {
      const claimed = await store.claimDue({ owner: 'w', now: Date.now(), leaseMs: 30_000, limit: 500, route: DEFAULT_ROUTE });
      const now = Date.now();
      await store.settle('w', claimed.map((m): Settlement => ({ id: m.id, outcome: 'delivered', attempt: { at: now, durationMs: 5, status: 200, batchSize: claimed.length, xactionId: 'x' } })), now);
    }
  }
};

const other = new Database(path);
try {
  await acceptUpTo(warmup);
  other.pragma('wal_checkpoint(TRUNCATE)');
  // A reader's snapshot keeps the WAL from being restarted (or checkpointed past it) until it ends.
  const reader = new Database(path, { readonly: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM events').get();
  await acceptUpTo(events);
  reader.exec('COMMIT');
  reader.close();

  const wal = readFileSync(`${path}-wal`);
  const pageSize = wal.readUInt32BE(8);
  const framesByPage = new Map<number, number>();
  let frames = 0;
  for (let at = WAL_HEADER_BYTES; at + FRAME_HEADER_BYTES + pageSize <= wal.length; at += FRAME_HEADER_BYTES + pageSize) {
    const page = wal.readUInt32BE(at);
    framesByPage.set(page, (framesByPage.get(page) ?? 0) + 1);
    frames += 1;
  }
  const owner = new Map((other.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]).map((r) => [r.pageno, r.name]));
  const byOwner = new Map<string, number>();
  for (const [page, n] of framesByPage) byOwner.set(owner.get(page) ?? '(freed since)', (byOwner.get(owner.get(page) ?? '(freed since)') ?? 0) + n);
  const measured = events - warmup;
  process.stdout.write(`${measured} webhooks in commits of ${turn}: ${frames} WAL frames of ${pageSize} B, ${(frames / measured).toFixed(2)} per webhook\n`);
  for (const [name, n] of [...byOwner].sort((a, b) => b[1] - a[1])) process.stdout.write(`${(n / measured).toFixed(3).padStart(7)}  ${name}\n`);
} finally {
  other.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
