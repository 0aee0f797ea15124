/**
 * The SQLite engine's share of a webhook, in process (no thread, no HTTP): accept in turns of 32,
 * claim 500, settle 500 delivered with their attempt details, as the relay does under ingest. CPU µs
 * per webhook (process.cpuUsage: this thread, SQLite's work included) for each step. For measuring a
 * store change quickly: `tsx bench/store/store-cycle.ts [--events=20000] [--synchronous=normal]`.
 * `--turn=N`: webhooks per commit (default 32); what a commit costs whatever it carries shows as the
 * difference between turns (claims and settles stay at about 500 messages each).
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
const events = Number(arg('events') ?? 20_000);
const synchronous = (arg('synchronous') ?? 'full') as 'full' | 'normal';
const turn = Number(arg('turn') ?? 32);

const dir = mkdtempSync(join(tmpdir(), 'store-cycle-'));
const t00 = performance.now();
const at = () => (performance.now() - t00).toFixed(0);
const verbose = process.argv.includes('--verbose');
const store = createSqliteStore({
  path: join(dir, 'relay.db'),
  synchronous,
  checkpointIntervalMs: 1000,
  onSlowCheckpoint: (run) => verbose && process.stdout.write(`${at()} ms: checkpoint ${run.mode} ${run.ms.toFixed(0)} ms, WAL ${(run.walBytes / 1e6).toFixed(1)} MB, busy ${run.busy}\n`),
});
// --drop=index,...: what an index costs, dropped through a second connection before the run.
for (const index of arg('drop')?.split(',') ?? []) {
  const other = new Database(join(dir, 'relay.db'));
  other.exec(`DROP INDEX ${index}`);
  other.close();
}
const inputs: NewEvent[] = sampleEvents(events, 'cycle', Date.now).map(({ event, payload }) => ({ event, payload, mapping: mapEvent(event, IN_PROCESS_MAPPING) }));
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
// Bytes handed to write(2) by every thread (WAL frames, checkpoints): a page rewritten per commit
// shows here whatever the CPU figures' noise.
const written = () => Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
const spent = { accept: 0, claim: 0, settle: 0 };
const written0 = written();
const t0 = performance.now();
// Claim and settle once about 500 webhooks are in, whatever the turn.
const turnsPerClaim = Math.max(1, Math.round(512 / turn));
for (let i = 0; i < events; i += turn) {
  let at0 = cpu();
  const wallAt = performance.now();
  await Promise.all(inputs.slice(i, i + turn).map((input) => store.acceptEvent(input)));
  spent.accept += cpu() - at0;
  if (verbose && performance.now() - wallAt > 50) process.stdout.write(`${at()} ms: accept took ${(performance.now() - wallAt).toFixed(0)} ms\n`);
  if ((i / turn) % turnsPerClaim === turnsPerClaim - 1 || i + turn >= events) {
    at0 = cpu();
    // By route, as the relay's delivery workers claim (every message has one: `default` without a routes file).
    const claimed = await store.claimDue({ owner: 'w', now: Date.now(), leaseMs: 30_000, limit: 500, route: DEFAULT_ROUTE });
    spent.claim += cpu() - at0;
    at0 = cpu();
    const now = Date.now();
    const settlements: Settlement[] = claimed.map((m) => ({ id: m.id, outcome: 'delivered', attempt: { at: now - 5, durationMs: 5, status: 200, batchSize: claimed.length, xactionId: `x-${m.id}` } }));
    await store.settle('w', settlements, now);
    spent.settle += cpu() - at0;
  }
}
const wall = performance.now() - t0;
await store.close();
const writtenPerWebhook = (written() - written0) / events;
rmSync(dir, { recursive: true, force: true });
const per = (us: number) => (us / events).toFixed(1);
process.stdout.write(`${events} webhooks, ${turn} a commit, ${synchronous}: accept ${per(spent.accept)} µs, claim ${per(spent.claim)} µs, settle ${per(spent.settle)} µs, total ${per(spent.accept + spent.claim + spent.settle)} µs CPU per webhook; wall ${(wall / events * 1000).toFixed(1)} µs; ${(writtenPerWebhook / 1024).toFixed(1)} KB written per webhook\n`);
