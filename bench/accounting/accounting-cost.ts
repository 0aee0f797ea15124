/**
 * npm run bench:accounting [-- --events=N --rounds=R --seconds=S] — what the accounting job (issue 17)
 * costs at N stored events (default 1,000,000: a week of history, bench/console-seed.ts):
 * 1. the time and relay CPU of one run, with Adobe read (day windows) and without (hour windows), the
 *    relay's own counts read an hour at a time from the covering indexes;
 * 2. its effect on webhooks: wrk against the relay (16 connections) with no run, and with runs back to
 *    back during the load, in alternating rounds; median throughput and p99 of the rounds.
 * The relay is the built process (`npm start`'s flags) on a seeded SQLite store; Capillary's and
 * Adobe's APIs are the test fakes (real HTTP servers in this process), IMS and DCS the bench's fast fakes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import { accountingSourcesEnv } from '../../test/helpers/accounting-world.js';
import { startFakeCapillary } from '../../test/helpers/fake-capillary.js';
import { startFakePlatform } from '../../test/helpers/fake-platform.js';
import { seedSqlite, SPAN_MS } from '../console/console-seed.js';
import { startFastDcs, startFastIms } from '../fakes/fake-adobe-fast.js';
import { cpuSeconds, relayEnv, startRelay, type ServerProcess } from '../harness/processes.js';
import { loadSamples } from '../load/samples.js';
import { median } from '../harness/stats.js';
import { runWrk, writeWrkScript, wrkPath } from '../load/wrk.js';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const EVENTS = arg('events', 1_000_000);
const ROUNDS = arg('rounds', 3);
const SECONDS = arg('seconds', 8);
const RUNS = 3;
const ADMIN = 'bench-accounting-admin-token-0123456789';
const DAY = 86_400_000;
const NOW = Date.now();

const wrk = wrkPath();
if (!wrk) throw new Error('wrk is not installed (apt-get install -y wrk)');
const scratch = mkdtempSync(join(tmpdir(), 'accounting-cost-'));
const ims = await startFastIms();
const dcs = await startFastDcs();
const platform = await startFakePlatform();
const capillary = await startFakeCapillary();

// Adobe counts what the seed says was delivered, day by day: a clean week.
const perDay = new Map<number, number>();
for (let i = 0; i < EVENTS; i += 1) {
  const day = Math.floor((NOW - SPAN_MS + Math.floor((i / EVENTS) * SPAN_MS)) / DAY) * DAY;
  perDay.set(day, (perDay.get(day) ?? 0) + 1);
}
platform.sandbox().metrics.push({ metric: 'timeseries.ingestion.dataset.recordsuccess.count', labels: { dataSetId: 'bench-event-dataset' }, dps: Object.fromEntries([...perDay].map(([d, n]) => [new Date(d).toISOString(), n])) });

const accountingEnv = { ADMIN_TOKEN: ADMIN, ...accountingSourcesEnv(platform, capillary) };

async function runOnce(relay: ServerProcess): Promise<{ ms: number; cpuS: number; windows: number }> {
  const cpu = cpuSeconds(relay.pid);
  const started = performance.now();
  const res = await request(`${relay.opsUrl}/admin/accounting/run`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  const body = (await res.body.json()) as { routes?: Array<{ windows: unknown[] }> };
  if (res.statusCode !== 200) throw new Error(`bench: accounting run answered ${res.statusCode}: ${JSON.stringify(body)}`);
  return { ms: performance.now() - started, cpuS: cpuSeconds(relay.pid) - cpu, windows: body.routes?.[0]?.windows.length ?? 0 };
}

const lines: string[] = [];
const say = (line: string) => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};

try {
  const dir = mkdtempSync(join(scratch, 'store-'));
  const path = join(dir, 'relay.db');
  await createSqliteStore({ path, synchronous: 'normal' }).close();
  const seedStarted = performance.now();
  seedSqlite(path, { events: EVENTS, now: NOW });
  say(`seeded ${EVENTS.toLocaleString('en')} events (a week) in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const variants: Array<[string, Record<string, string>]> = [
    ['days (Capillary, relay, Adobe)', { ...accountingEnv }],
    // Without an inlet the route is dry-run: Adobe is not read, and the windows are hours.
    ['hours (Capillary, relay; no Adobe)', { ...accountingEnv, AEP_INLET_URL: '' }],
  ];
  say(`\n| windows | run (median of ${RUNS}) | first run | relay CPU per run | windows judged |\n| --- | ---: | ---: | ---: | ---: |`);
  for (const [name, extra] of variants) {
    const relay = await startRelay(relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra }));
    try {
      const runs = [];
      for (let i = 0; i < RUNS; i += 1) runs.push(await runOnce(relay));
      say(`| ${name} | ${(median(runs.map((r) => r.ms)) / 1000).toFixed(2)} s | ${(runs[0]!.ms / 1000).toFixed(2)} s | ${median(runs.map((r) => r.cpuS)).toFixed(2)} s | ${runs[0]!.windows} |`);
    } finally {
      await relay.stop();
    }
  }

  const script = writeWrkScript(scratch, loadSamples());
  const results = new Map<string, Array<{ rps: number; p99Ms: number; runs: number }>>();
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? ['no accounting run', 'accounting runs back to back'] : ['accounting runs back to back', 'no accounting run'];
    for (const name of order) {
      const relay = await startRelay(relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: accountingEnv }));
      try {
        await runWrk(wrk, { url: relay.url, script, prefix: `w${round}${name[0]}${Date.now()}`, seconds: 2, connections: 16, threads: 1 });
        let stop = false;
        let runs = 0;
        const loop = name === 'no accounting run' ? Promise.resolve() : (async () => {
          while (!stop) {
            await runOnce(relay);
            runs += 1;
          }
        })();
        const r = await runWrk(wrk, { url: relay.url, script, prefix: `m${round}${name[0]}${Date.now()}`, seconds: SECONDS, connections: 16, threads: 1 });
        stop = true;
        await loop;
        (results.get(name) ?? results.set(name, []).get(name)!).push({ rps: r.rps, p99Ms: r.p99Ms, runs });
        process.stdout.write(`round ${round + 1} ${name}: ${Math.round(r.rps)} webhooks/s, p99 ${r.p99Ms.toFixed(1)} ms${runs ? `, ${runs} runs` : ''}\n`);
      } finally {
        await relay.stop();
      }
    }
  }
  say(`\n| webhooks under wrk (16 connections, ${SECONDS} s) | webhooks/s (median of ${ROUNDS}) | p99 (median) | accounting runs during the load |\n| --- | ---: | ---: | ---: |`);
  for (const [name, rows] of results) {
    say(`| ${name} | ${Math.round(median(rows.map((r) => r.rps)))} | ${median(rows.map((r) => r.p99Ms)).toFixed(1)} ms | ${rows.reduce((n, r) => n + r.runs, 0)} |`);
  }
} finally {
  await Promise.all([capillary.close(), platform.close(), dcs.close(), ims.close()]);
  rmSync(scratch, { recursive: true, force: true });
}
