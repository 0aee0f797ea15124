/**
 * Scale-out benchmark (issue 5): one relay replica against two on the same PostgreSQL store.
 *   1. Ingest: wrk POSTs unique webhooks for a fixed time; with two replicas its threads are split
 *      over both (one wrk, one latency histogram). Fresh database per round, rounds alternate (ABBA).
 *   2. Drain: one backlog of webhooks is queued once (delivery held to ~1 message/s), copied per round
 *      (CREATE DATABASE ... TEMPLATE), and drained by one or by two replicas started together into a
 *      fast fake Adobe that counts every ExperienceEvent `_id`: the rate, and how many were sent twice.
 * Prints a table and writes bench/scale-out/SCALE-OUT.md. Run: `npm run bench:scale-out [-- --quick]`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuText, fmt, report, versions, type DrainRow, type IngestRow, type Plan, type Replicas } from './scale-out-report.js';
import { dropDatabase } from '../../support/postgres-databases.js';
import { createBenchDatabase, startBenchPostgres, storeCounts, type BenchPostgres } from '../postgres/bench-postgres.js';
import { loadSamples } from '../load/samples.js';
import { acceptedSoFar, until } from '../harness/stats.js';
import { cpuWindow, postCount } from './scale-out-load.js';
import { runWrk, writeWrkScript } from '../load/wrk.js';
import { ROOT } from '../../support/repo-root.js';
import { relayEnv, startFakeAdobe, startReplica, type FakeAdobe, type Replica } from './scale-out-servers.js';

const WRK = '/usr/bin/wrk';
const quick = process.argv.includes('--quick');
const arg = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
};
const plan: Plan = {
  quick,
  rounds: arg('rounds', quick ? 1 : 4),
  warmupSeconds: quick ? 1 : 2,
  seconds: arg('seconds', quick ? 3 : 10),
  threads: 2,
  connections: 32,
  backlog: arg('backlog', quick ? 5_000 : 30_000),
};

const log = (line: string) => process.stdout.write(`${line}\n`);
/** Alternating order per round (ABBA...), so drift on a noisy machine hits both sides alike. */
const orderOf = (round: number): Replicas[] => (round % 2 === 0 ? [1, 2] : [2, 1]);

async function startReplicas(n: Replicas, storeUrl: string, adobe: FakeAdobe): Promise<Replica[]> {
  // Started together: the migration at start-up is safe under concurrent starts (advisory lock).
  return Promise.all(Array.from({ length: n }, () => startReplica(relayEnv(storeUrl, adobe))));
}

const pendingOf = (states: Record<string, number>) => (states['pending'] ?? 0) + (states['in_flight'] ?? 0);

async function ingestRound(pg: BenchPostgres, adobe: FakeAdobe, dir: string, replicas: Replicas, round: number, id: number): Promise<IngestRow> {
  const db = await createBenchDatabase(pg.url, `ingest${id}`);
  adobe.reset();
  const relays = await startReplicas(replicas, db.url, adobe);
  try {
    const script = writeWrkScript(dir, loadSamples(), relays.map((r) => r.port));
    const load = (prefix: string, seconds: number) =>
      runWrk(WRK, { url: relays[0]!.url, script, prefix: `${prefix}${id}`, seconds, threads: plan.threads, connections: plan.connections });
    await load('warm', plan.warmupSeconds);
    const window = cpuWindow({ replicas: relays.map((r) => r.pid), postmaster: pg.postmasterPid() });
    const wrk = await load('run', plan.seconds);
    const cpu = window.stop();
    // Everything accepted reaches Adobe once, whichever replica took it and whichever sent it.
    let counts = await storeCounts(db.url);
    await until(async () => pendingOf((counts = await storeCounts(db.url)).states) === 0, 60_000, 200);
    const split = await Promise.all(relays.map((r) => acceptedSoFar(r.opsUrl)));
    const row = { replicas, round, wrk, cpu, events: counts.events, delivered: adobe.messages(), duplicates: adobe.duplicates(), split };
    log(
      `  ingest round ${round + 1}, ${replicas} replica(s): ${fmt(wrk.rps)} req/s, p50 ${wrk.p50Ms.toFixed(1)} ms, p99 ${wrk.p99Ms.toFixed(1)} ms, ` +
        `errors ${wrk.errors}, ${cpuText(cpu)}; ${fmt(row.events)} events stored (${split.map((n) => fmt(n)).join(' + ')}), ${fmt(row.delivered)} delivered, ${row.duplicates} twice`,
    );
    return row;
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
    await dropDatabase(pg.url, db.name);
  }
}

/** A backlog of `plan.backlog` webhooks queued by a replica that delivers about one message a second. */
async function buildBacklog(pg: BenchPostgres, adobe: FakeAdobe): Promise<{ name: string; pending: number; seconds: number }> {
  const db = await createBenchDatabase(pg.url, 'backlog');
  const loader = await startReplica(
    relayEnv(db.url, adobe, { AEP_MAX_REQUESTS_PER_SECOND: '1', AEP_MAX_MESSAGES_PER_SECOND: '1', DELIVERY_BATCH_MAX_MESSAGES: '1', DELIVERY_CONCURRENCY: '1' }),
  );
  const started = performance.now();
  try {
    const accepted = await postCount(loader.url, loadSamples(), `backlog${Date.now()}`, plan.backlog, 64);
    if (accepted !== plan.backlog) throw new Error(`bench: only ${accepted} of ${plan.backlog} backlog webhooks accepted`);
  } finally {
    await loader.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const { states } = await storeCounts(db.url);
  return { name: db.name, pending: states['pending'] ?? 0, seconds };
}

async function drainRound(pg: BenchPostgres, adobe: FakeAdobe, template: string, replicas: Replicas, round: number): Promise<DrainRow> {
  const db = await createBenchDatabase(pg.url, 'drain', template);
  const expected = pendingOf((await storeCounts(db.url)).states);
  adobe.reset();
  const started = Date.now();
  const relays = await startReplicas(replicas, db.url, adobe);
  // From the replicas listening (their start-up is not the drain) to the last message.
  const window = cpuWindow({ replicas: relays.map((r) => r.pid), postmaster: pg.postmasterPid() });
  try {
    if (!(await until(() => adobe.messages() >= expected, 180_000, 20))) throw new Error(`bench: drain incomplete: ${adobe.messages()} of ${expected}`);
    const cpu = window.stop();
    const first = adobe.firstAt()!;
    const last = adobe.lastAt()!;
    let leftOver = expected;
    await until(async () => (leftOver = pendingOf((await storeCounts(db.url)).states)) === 0, 10_000, 100);
    const row = {
      replicas,
      round,
      messages: adobe.messages(),
      rate: expected / (Math.max(1, last - first) / 1000),
      toFirstMs: first - started,
      totalMs: last - started,
      cpu,
      duplicates: adobe.duplicates(),
      leftOver,
    };
    log(
      `  drain round ${round + 1}, ${replicas} replica(s): ${fmt(row.rate)} msg/s (first to last), first message ${fmt(row.toFirstMs)} ms after the start, ` +
        `all ${fmt(row.messages)} in ${fmt(row.totalMs)} ms, ${cpuText(cpu)}, ${row.duplicates} twice, ${leftOver} left`,
    );
    return row;
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
    await dropDatabase(pg.url, db.name);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'relay-scale-out-'));
  const pg = await startBenchPostgres();
  const adobe = await startFakeAdobe();
  try {
    const env = versions(pg, plan, WRK);
    log(`scale-out bench: ${env['CPU']}, PostgreSQL ${pg.version}; ${plan.rounds} round(s) of ${plan.seconds} s, backlog ${fmt(plan.backlog)}`);
    const ingest: IngestRow[] = [];
    let id = 0;
    for (let round = 0; round < plan.rounds; round += 1) {
      for (const n of orderOf(round)) ingest.push(await ingestRound(pg, adobe, dir, n, round, (id += 1)));
    }
    const backlog = await buildBacklog(pg, adobe);
    log(`  backlog: ${fmt(backlog.pending)} messages queued in ${backlog.seconds.toFixed(1)} s`);
    const drain: DrainRow[] = [];
    try {
      for (let round = 0; round < plan.rounds; round += 1) {
        for (const n of orderOf(round)) drain.push(await drainRound(pg, adobe, backlog.name, n, round));
      }
    } finally {
      await dropDatabase(pg.url, backlog.name);
    }
    const markdown = report({ plan, ingest, drain, backlog, env, elapsedS: (performance.now() - started) / 1000 });
    const out = join(ROOT, 'bench', 'scale-out', 'SCALE-OUT.md');
    writeFileSync(out, markdown);
    log(`\n${markdown.slice(markdown.indexOf('## Summary'), markdown.indexOf('## Machine'))}`);
    log(`written: ${out}`);
    // Correctness of sharing, checked on every run: nothing sent twice, nothing left behind.
    const twice = [...ingest, ...drain].reduce((n, r) => n + r.duplicates, 0);
    const undelivered = ingest.reduce((n, r) => n + Math.max(0, r.events - r.delivered), 0) + drain.reduce((n, r) => n + r.leftOver, 0);
    if (twice > 0 || undelivered > 0) {
      log(`bench: ${twice} events delivered twice and ${undelivered} not delivered, with no replica killed: a defect`);
      process.exitCode = 1;
    }
  } finally {
    await adobe.close();
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
