/**
 * A diagnostic for the "What the profile shows" section: how long one SQLite commit blocks the thread
 * on this machine's disk, by `synchronous` mode and by WAL auto-checkpoint, with rows shaped like the
 * relay's (a 1 KB payload and a 1 KB message body per event, in groups). Not part of `npm run bench`:
 *   node dist/bench/stall/sqlite-stalls.js [commits=1500] [eventsPerCommit=10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

interface Variant {
  name: string;
  synchronous: 'FULL' | 'NORMAL';
  /** Pages; 0 turns auto-checkpoint off (a checkpoint then runs every `manualCheckpointEvery` commits, timed apart). */
  autocheckpoint: number;
}

const VARIANTS: Variant[] = [
  { name: 'synchronous=FULL, auto-checkpoint 1000 pages (the relay today)', synchronous: 'FULL', autocheckpoint: 1000 },
  { name: 'synchronous=FULL, auto-checkpoint off', synchronous: 'FULL', autocheckpoint: 0 },
  { name: 'synchronous=NORMAL, auto-checkpoint 1000 pages', synchronous: 'NORMAL', autocheckpoint: 1000 },
  { name: 'synchronous=NORMAL, auto-checkpoint off', synchronous: 'NORMAL', autocheckpoint: 0 },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function measureCommits(commits: number, perCommit: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-stalls-'));
  const payload = 'x'.repeat(1024);
  const results = [];
  try {
    for (const v of VARIANTS) {
      const db = new Database(join(dir, `${v.synchronous}-${v.autocheckpoint}.db`));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${v.synchronous}`);
      db.pragma(`wal_autocheckpoint = ${v.autocheckpoint}`);
      db.exec(`CREATE TABLE events (event_id TEXT PRIMARY KEY, payload TEXT NOT NULL, received_at INTEGER NOT NULL);
               CREATE INDEX events_received_at ON events (received_at);
               CREATE TABLE messages (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, next_attempt_at INTEGER NOT NULL);
               CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE state IN ('pending', 'in_flight');
               CREATE INDEX messages_event ON messages (event_id);`);
      const insertEvent = db.prepare('INSERT INTO events (event_id, payload, received_at) VALUES (?, ?, ?)');
      const insertMessage = db.prepare(`INSERT INTO messages (event_id, body, state, next_attempt_at) VALUES (?, ?, 'pending', ?)`);
      const commit = db.transaction((base: number) => {
        for (let i = 0; i < perCommit; i += 1) {
          const id = `e-${base}-${i}`;
          insertEvent.run(id, payload, base);
          insertMessage.run(id, payload, base);
        }
      });
      const times: number[] = [];
      const checkpoints: number[] = [];
      for (let c = 0; c < commits; c += 1) {
        const t = performance.now();
        commit(c);
        times.push(performance.now() - t);
        if (v.autocheckpoint === 0 && c % 100 === 99) {
          const t2 = performance.now();
          db.pragma('wal_checkpoint(PASSIVE)');
          checkpoints.push(performance.now() - t2);
        }
      }
      db.close();
      const sorted = [...times].sort((a, b) => a - b);
      results.push({
        variant: v.name,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? NaN,
        over20Ms: times.filter((x) => x > 20).length,
        checkpointMaxMs: checkpoints.length ? Math.max(...checkpoints) : undefined,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

const commits = Number(process.argv[2] ?? 1500);
const perCommit = Number(process.argv[3] ?? 10);
process.stdout.write(`${commits} commits of ${perCommit} events (1 KB payload + 1 KB message body each), one thread, this machine's disk:\n\n`);
process.stdout.write('| variant | commit p50 | p99 | max | commits > 20 ms | separate checkpoint, max |\n| --- | ---: | ---: | ---: | ---: | ---: |\n');
for (const r of measureCommits(commits, perCommit)) {
  process.stdout.write(
    `| ${r.variant} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.maxMs.toFixed(1)} ms | ${r.over20Ms} | ${r.checkpointMaxMs === undefined ? '' : `${r.checkpointMaxMs.toFixed(1)} ms`} |\n`,
  );
}
