/**
 * PostgreSQL single-replica ingest beside SQLite (issue 12), and optionally beside another build of
 * the relay (`--before=/path/to/checkout`, built with `npm run build`): wrk POSTs unique webhooks to
 * one replica for a fixed time, fresh store per round, sides alternating (ABBA), medians printed.
 * Run: `npm run bench:postgres-ingest -- [--before=DIR] [--rounds=4] [--seconds=8]`.
 * Uses TEST_POSTGRES_URL when set, else a throwaway cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase } from '../../support/postgres-databases.js';
import { createBenchDatabase, startBenchPostgres } from './bench-postgres.js';
import { loadSamples } from '../load/samples.js';
import { ROOT } from '../../support/repo-root.js';
import { acceptedSoFar, median } from '../harness/stats.js';
import { relayEnv, startFakeAdobe, startReplica } from '../scale-out/scale-out-servers.js';
import { runWrk, writeWrkScript, type WrkResult } from '../load/wrk.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const before = arg('before');
const rounds = Number(arg('rounds') ?? 4);
const seconds = Number(arg('seconds') ?? 8);
type Side = { label: string; root: string; store: 'postgres' | 'sqlite' };
const sides: Side[] = [
  ...(before ? [{ label: 'postgres, before', root: before, store: 'postgres' as const }] : []),
  { label: 'postgres', root: ROOT, store: 'postgres' },
  { label: 'sqlite', root: ROOT, store: 'sqlite' },
];

async function main() {
  const pg = await startBenchPostgres();
  const adobe = await startFakeAdobe();
  const dir = mkdtempSync(join(tmpdir(), 'relay-pg-ingest-'));
  const results = new Map<string, WrkResult[]>(sides.map((s) => [s.label, []]));
  try {
    const script = writeWrkScript(dir, loadSamples());
    for (let round = 0; round < rounds; round += 1) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const db = side.store === 'postgres' ? await createBenchDatabase(pg.url, `ingest${round}`) : undefined;
        const storeUrl = db ? db.url : `sqlite:${join(mkdtempSync(join(dir, 'sqlite-')), 'relay.db')}`;
        const relay = await startReplica(relayEnv(storeUrl, adobe), side.root);
        try {
          const load = (prefix: string, s: number) => runWrk('/usr/bin/wrk', { url: relay.url, script, prefix: `${prefix}${round}${side.store}${side.root.length}`, seconds: s, threads: 1, connections: 32 });
          await load('warm', 2);
          const wrk = await load('run', seconds);
          results.get(side.label)!.push(wrk);
          process.stdout.write(`round ${round + 1} ${side.label}: ${Math.round(wrk.rps)} webhooks/s, p99 ${wrk.p99Ms.toFixed(1)} ms, errors ${wrk.errors}, accepted ${await acceptedSoFar(relay.opsUrl)}\n`);
        } finally {
          await relay.stop();
          if (db) await dropDatabase(pg.url, db.name);
        }
      }
    }
  } finally {
    await adobe.close();
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const sqlite = median(results.get('sqlite')!.map((r) => r.rps));
  for (const [label, runs] of results) {
    const rps = median(runs.map((r) => r.rps));
    process.stdout.write(`${label}: median ${Math.round(rps)} webhooks/s (${runs.map((r) => Math.round(r.rps)).join(', ')}), p99 ${median(runs.map((r) => r.p99Ms)).toFixed(1)} ms, ÷ sqlite ${(rps / sqlite).toFixed(2)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
