/**
 * Webhook latency while a large event replay runs (issue 12: p99 under 100 ms floor, 20 ms goal),
 * this build side by side with a build of the code before the chunking (`--before=path/to/dist/src/
 * server.js`, e.g. main built in a scratch copy), alternating A B B A. Each round starts a relay on a
 * copy of one store holding `--events` unmapped events, sends webhooks at 200/s open loop
 * (bench/load/load-gen.ts: latency from when each was due) and replays every stored event through
 * POST /admin/events/replay, 10,000 per request (the synchronous API both sides share).
 * `npm run bench:replay-stall -- --before=... [--events=10000] [--rounds=1] [--seconds=10]`
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { startFastDcs, startFastIms } from '../fakes/fake-adobe-fast.js';
import { startLoadGen } from '../load/load-gen-client.js';
import { relayEnv, startRelay, startRelayBuild } from '../harness/processes.js';
import { bodyOf, loadSamples } from '../load/samples.js';
import { median } from '../harness/stats.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const events = Number(arg('events') ?? 10_000);
const rounds = Number(arg('rounds') ?? 1);
const seconds = Number(arg('seconds') ?? 10);
const before = arg('before');
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123';
/** The schema both sides know (main's); the newer side adds its own migrations at start. */
const SHARED_MIGRATIONS = 4;

/** A store of `n` unmapped events whose payloads the current mapper maps (a replay after a mapping change). */
function prefill(path: string, n: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  for (const [i, migration] of SQLITE_MIGRATIONS.slice(0, SHARED_MIGRATIONS).entries()) {
    db.exec(migration);
    db.pragma(`user_version = ${i + 1}`);
  }
  const samples = loadSamples();
  const insert = db.prepare(`INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload) VALUES (?, ?, 'flat', NULL, ?, 'unmapped', ?)`);
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) {
      const id = `replay-${String(i).padStart(7, '0')}`;
      const payload = bodyOf(samples, i, id);
      insert.run(id, String((JSON.parse(payload) as { eventName?: string }).eventName ?? ''), now, payload);
    }
  })();
  db.close();
}

async function replayAll(opsUrl: string): Promise<{ ms: number; examined: number; refused: number }> {
  const started = performance.now();
  let after: string | null = null;
  let examined = 0;
  // The code before issue 12 can answer 503 (SQLITE_BUSY) when its checkpoint thread resets the WAL
  // under a replay (its replace transactions read before they write): an operator retries the same
  // page, and so does this.
  let refused = 0;
  for (;;) {
    const res = await request(`${opsUrl}/admin/events/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'unmapped', limit: 10_000, ...(after ? { after } : {}) }),
    });
    const body = (await res.body.json()) as { examined: number; nextAfter: string | null };
    if (res.statusCode === 503 && refused < 1000) {
      refused += 1;
      continue;
    }
    if (res.statusCode !== 200) throw new Error(`bench: replay answered ${res.statusCode} ${JSON.stringify(body)}`);
    examined += body.examined;
    after = body.nextAfter;
    if (!after) break;
  }
  return { ms: performance.now() - started, examined, refused };
}

type Side = 'before' | 'after';
interface Round {
  side: Side;
  p99Ms: number;
  maxMs: number;
  replayMs: number;
}

async function main() {
  if (!before) throw new Error('bench: give --before=path/to/dist/src/server.js (the code before the chunking)');
  const work = mkdtempSync(join(tmpdir(), 'bench-replay-stall-'));
  const ims = await startFastIms();
  const dcs = await startFastDcs();
  const gen = await startLoadGen();
  const seed = join(work, 'seed.db');
  prefill(seed, events);
  const order: Side[] = Array.from({ length: rounds }, () => ['before', 'after', 'after', 'before'] as Side[]).flat();
  const results: Round[] = [];
  try {
    for (const [i, side] of order.entries()) {
      const dir = join(work, `round-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      copyFileSync(seed, join(dir, 'relay.db'));
      const env = relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: { STORE_SYNCHRONOUS: 'full', ADMIN_TOKEN } });
      const server = side === 'before' ? await startRelayBuild(before, env) : await startRelay(env);
      try {
        const webhooks = gen.run({ cmd: 'rate', url: server.url, prefix: `stall${Date.now()}x${i}`, rate: 200, seconds, connections: 8, maxOutstanding: 2000 });
        const replay = await replayAll(server.opsUrl);
        const stall = await webhooks;
        results.push({ side, p99Ms: stall.p99Ms, maxMs: stall.maxMs, replayMs: replay.ms });
        process.stdout.write(
          `${side.padEnd(6)} round ${i + 1}: replay of ${replay.examined} in ${(replay.ms / 1000).toFixed(1)} s (${replay.refused} pages refused, retried); webhooks at 200/s for ${seconds} s: ` +
            `p50 ${stall.p50Ms.toFixed(1)} ms, p99 ${stall.p99Ms.toFixed(1)} ms, max ${stall.maxMs.toFixed(0)} ms (${stall.accepted}/${stall.due} accepted)\n`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await gen.close();
    await Promise.all([ims.close(), dcs.close()]);
    rmSync(work, { recursive: true, force: true });
  }
  const med = (side: Side, key: 'p99Ms' | 'maxMs' | 'replayMs') => median(results.filter((r) => r.side === side).map((r) => r[key]));
  const keys = ['p99Ms', 'maxMs', 'replayMs'] as const;
  const summary = {
    events,
    rounds,
    seconds,
    medians: Object.fromEntries((['before', 'after'] as const).map((side) => [side, Object.fromEntries(keys.map((k) => [k, Number(med(side, k).toFixed(1))]))])),
    beforeOverAfter: Object.fromEntries(keys.map((k) => [k, Number((med('before', k) / med('after', k)).toFixed(2))])),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

void main();
