import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import type { Context } from '../context.js';
import type { GenResult } from '../load/load-gen.js';
import { monitor, relayEnv, startRelay, type ServerProcess } from '../harness/processes.js';
import { prefillPruneStore, prefillReplayStore } from './stall-stores.js';
import { sleep, until } from '../harness/stats.js';
import { sampleDiskWrites, startOtherWriter } from './disk-writes.js';
import { checkpointLogs, diagnoseStalls, diagnosisLine, type StallDiagnosis } from './stall-diagnosis.js';

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123';
const DAY_MS = 86_400_000;
const PRUNED_LOG = 'pruned delivered history past retention';

export interface StallRun {
  /** replay: a background job; replay-sync: one synchronous POST of `size` events from a larger store. */
  job: 'replay' | 'replay-sync' | 'prune';
  /** Events to replay, or delivered messages (each with its event and one attempt) to prune. */
  size: number;
  prefillS: number;
  /** From the job's start (the replay's POST; the prune's first chunk seen committed) until it was seen done. */
  jobMs: number;
  complete: boolean;
  /** What the job reported doing: e.g. `{ examined, requeued }` or `{ events, messages }`. */
  processed: Record<string, number>;
  webhooks: GenResult;
  peakRssMb: number;
  /** What the slow webhooks waited behind (stall-diagnosis.ts). */
  diagnosis: StallDiagnosis;
}

export interface StallResult {
  rate: number;
  /** Absent in results written before it was measured. */
  syncReplay?: StallRun;
  replay: StallRun;
  prune: StallRun;
}

/**
 * BENCH_STALL_OTHER_WRITES_MB=<MB>: another process writes that much to the same disk (fdatasync'd,
 * every 3 s) while each job is measured: a known cause for the diagnosis to find (disk-writes.ts).
 */
const OTHER_WRITES_MB = Number(process.env['BENCH_STALL_OTHER_WRITES_MB'] ?? 0);

/**
 * Webhooks at the plan's rate (open loop: latency from when each was due) until `job` resolves, with
 * what the disk under the store (`storeDir`) wrote meanwhile, by the relay and by everything else.
 */
async function webhooksDuring<T>(ctx: Context, relay: ServerProcess, storeDir: string, name: string, job: () => Promise<T>) {
  const p = ctx.plan.stall;
  const disk = sampleDiskWrites(storeDir, relay.pid);
  const hooks = ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `${name}${Date.now()}`, rate: p.rate, seconds: p.maxSeconds, connections: 8, maxOutstanding: 2000 });
  const other = OTHER_WRITES_MB > 0 ? startOtherWriter(ctx.freshDir('other-writer'), OTHER_WRITES_MB) : undefined;
  let outcome: T;
  try {
    outcome = await job();
  } finally {
    ctx.gen.stop();
    await other?.stop();
  }
  return { outcome, webhooks: await hooks, diskWrites: disk.stop() };
}

async function admin<T>(relay: ServerProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await request(`${relay.opsUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.body.json()) as T;
  if (res.statusCode >= 300) throw new Error(`bench: ${method} ${path} answered ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

interface Job {
  jobId: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  done: number;
  result: { examined?: number; requeued?: number; stillUnmapped?: number } | null;
  error: string | null;
}

/** (a) Every stored unmapped event replayed as one background job (POST /admin/events/replay), polled until done. */
async function replayRun(ctx: Context): Promise<StallRun> {
  const p = ctx.plan.stall;
  const dir = ctx.freshDir('stall-replay');
  let t = performance.now();
  prefillReplayStore(join(dir, 'relay.db'), p.replayEvents, ctx.samples, Date.now());
  const prefillS = (performance.now() - t) / 1000;
  const relay = await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: { ADMIN_TOKEN } }));
  try {
    await ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `stallwarm${Date.now()}`, rate: p.rate, seconds: 1, connections: 8, maxOutstanding: 2000 });
    const mon = monitor(relay.pid);
    t = performance.now();
    const { outcome: job, webhooks, diskWrites } = await webhooksDuring(ctx, relay, dir, 'stallreplay', async () => {
      let job = await admin<Job>(relay, 'POST', '/admin/events/replay', { state: 'unmapped', background: true });
      const deadline = performance.now() + p.maxSeconds * 1000;
      while (job.state === 'running' && performance.now() < deadline) {
        await sleep(200);
        job = await admin<Job>(relay, 'GET', `/admin/jobs/${job.jobId}`);
      }
      return job;
    });
    const jobMs = performance.now() - t;
    const peakRssMb = mon.peakMb();
    mon.stop();
    const processed = { examined: job.result?.examined ?? job.done, requeued: job.result?.requeued ?? NaN };
    const diagnosis = diagnoseStalls(webhooks, checkpointLogs(relay.logs), [], diskWrites);
    return { job: 'replay', size: p.replayEvents, prefillS, jobMs, complete: job.state === 'done' && processed.examined === p.replayEvents, processed, webhooks, peakRssMb, diagnosis };
  } finally {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * (a0) One synchronous `POST /admin/events/replay` of `syncReplayEvents` unmapped events, on a store
 * holding `syncReplayStore` of them (the operator's replay of a page, answered when done).
 */
async function syncReplayRun(ctx: Context): Promise<StallRun> {
  const p = ctx.plan.stall;
  const dir = ctx.freshDir('stall-sync-replay');
  let t = performance.now();
  prefillReplayStore(join(dir, 'relay.db'), p.syncReplayStore, ctx.samples, Date.now());
  const prefillS = (performance.now() - t) / 1000;
  const relay = await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: { ADMIN_TOKEN } }));
  try {
    await ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `stallsyncwarm${Date.now()}`, rate: p.rate, seconds: 1, connections: 8, maxOutstanding: 2000 });
    const mon = monitor(relay.pid);
    t = performance.now();
    const { outcome, webhooks, diskWrites } = await webhooksDuring(ctx, relay, dir, 'stallsync', () =>
      admin<{ examined: number; requeued: number }>(relay, 'POST', '/admin/events/replay', { state: 'unmapped', limit: p.syncReplayEvents }),
    );
    const jobMs = performance.now() - t;
    const peakRssMb = mon.peakMb();
    mon.stop();
    const diagnosis = diagnoseStalls(webhooks, checkpointLogs(relay.logs), [], diskWrites);
    const processed = { examined: outcome.examined, requeued: outcome.requeued };
    return { job: 'replay-sync', size: p.syncReplayEvents, prefillS, jobMs, complete: outcome.examined === p.syncReplayEvents, processed, webhooks, peakRssMb, diagnosis };
  } finally {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Old rows left, read through a connection of the bench's own (read-only: the relay owns the file). */
function oldRowsLeft(db: Database.Database, olderThan: number): { events: number; messages: number } {
  const count = (sql: string) => (db.prepare(sql).get(olderThan) as { n: number }).n;
  return {
    messages: count(`SELECT count(*) AS n FROM messages WHERE state IN ('delivered', 'skipped') AND accepted_at < ?`),
    events: count('SELECT count(*) AS n FROM events WHERE received_at < ?'),
  };
}

/** The relay's own account of a finished prune, if it has logged one. */
function prunedLogged(relay: ServerProcess): { events: number; messages: number } | undefined {
  for (const line of relay.logs) {
    if (!line.includes(PRUNED_LOG)) continue;
    const { events, messages } = JSON.parse(line) as { events?: number; messages?: number };
    if (typeof events === 'number' && typeof messages === 'number') return { events, messages };
  }
  return undefined;
}

/**
 * Whether any old row is left: two index seeks. Counting them instead (a million index entries, up
 * to a second and a core of this process, with the fake Adobe frozen meanwhile) was itself the
 * cause of the webhook stalls measured beside it (the slow webhooks lined up with those reads).
 */
function anyOldRowLeft(db: Database.Database, olderThan: number): boolean {
  const any = (sql: string) => db.prepare(sql).get(olderThan) !== undefined;
  return any(`SELECT 1 FROM messages WHERE state IN ('delivered', 'skipped') AND accepted_at < ? LIMIT 1`) || any('SELECT 1 FROM events WHERE received_at < ? LIMIT 1');
}

/** Whether the prune has begun: it walks history oldest first, so the oldest message goes first (a cheap rowid read). */
function pruneBegun(db: Database.Database): boolean {
  return ((db.prepare('SELECT min(id) AS id FROM messages').get() as { id: number | null }).id ?? Infinity) > 1;
}

/**
 * (b) A store holding `pruneRows` delivered messages a month old; the relay starts on it with the
 * shortest retention its settings allow and a prune 3 s after start-up. Webhooks flow from the start
 * (a relay opening a store this size answers its first ones slowly, prune or not: not counted), and
 * are measured from the prune's first chunk until the relay logs the prune's totals or no old row
 * is left.
 */
async function pruneRun(ctx: Context): Promise<StallRun> {
  const p = ctx.plan.stall;
  const dir = ctx.freshDir('stall-prune');
  const path = join(dir, 'relay.db');
  let t = performance.now();
  const oldestAt = Date.now() - 30 * DAY_MS;
  prefillPruneStore(path, p.pruneRows, ctx.samples, oldestAt);
  const prefillS = (performance.now() - t) / 1000;
  // Gigabytes just written sit dirty in the page cache: flush them first, or the relay's first
  // commits wait behind the kernel's writeback of the bench's own prefill.
  execFileSync('sync');
  const olderThan = Date.now() - 9 * DAY_MS; // past DEDUP_RETENTION_HOURS=192 (8 days)
  ctx.log(`  stall: ${p.pruneRows} delivered messages a month old written in ${prefillS.toFixed(1)} s; relay starting on them`);
  const relay = await startRelay(
    relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: { ADMIN_TOKEN, DEDUP_RETENTION_HOURS: '192', PRUNE_INTERVAL_MS: '3000' } }),
  );
  const reader = new Database(path, { readonly: true, fileMustExist: true });
  // Each read of the store by the bench, timed: a read transaction a TRUNCATE checkpoint waits on.
  const benchReads: Array<[number, number]> = [];
  const timedRead = <T>(read: () => T): T => {
    const from = Date.now();
    try {
      return read();
    } finally {
      benchReads.push([from, Date.now()]);
    }
  };
  try {
    const warm = ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `stallprewarm${Date.now()}`, rate: p.rate, seconds: 30, connections: 8, maxOutstanding: 2000 });
    const begun = await until(() => timedRead(() => pruneBegun(reader)), 15_000, 50);
    ctx.gen.stop();
    await warm;
    const mon = monitor(relay.pid);
    t = performance.now();
    const { outcome, webhooks, diskWrites } = await webhooksDuring(ctx, relay, dir, 'stallprune', async () => {
      const deadline = performance.now() + p.maxSeconds * 1000;
      for (let i = 0; ; i += 1) {
        const logged = prunedLogged(relay);
        if (logged) return { done: true, logged };
        // Each second, the log line in between; counted once it is over, outside the measured time.
        const left = i % 4 === 3 ? timedRead(() => anyOldRowLeft(reader, olderThan)) : undefined;
        if (left === false || performance.now() > deadline) return { done: left === false, logged: undefined };
        await sleep(250);
      }
    });
    const jobMs = performance.now() - t;
    const peakRssMb = mon.peakMb();
    mon.stop();
    const left = oldRowsLeft(reader, olderThan);
    const processed = outcome.logged ?? { events: p.pruneRows - left.events, messages: p.pruneRows - left.messages };
    const complete = begun && outcome.done && left.events + left.messages === 0;
    const diagnosis = diagnoseStalls(webhooks, checkpointLogs(relay.logs), benchReads, diskWrites);
    // BENCH_STALL_DUMP=<file>: the raw timelines, to read the diagnosis against.
    if (process.env['BENCH_STALL_DUMP']) writeFileSync(process.env['BENCH_STALL_DUMP'], JSON.stringify({ slow: webhooks.slow, checkpoints: diagnosis.checkpoints, benchReads, diskWrites, logs: relay.logs }));
    return { job: 'prune', size: p.pruneRows, prefillS, jobMs, complete, processed, webhooks, peakRssMb, diagnosis };
  } finally {
    reader.close();
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 6. Stalls (issue 12): webhook latency at 200/s, open loop, while a long store job runs on the
 * relay: (a0) a synchronous replay of 10,000 of 40,000 stored events, (a) a replay of 100,000
 * stored events as a background job, (b) a prune of 1,000,000
 * delivered messages past retention. Each on a relay of its own, started on a store written for it.
 */
export async function stallPhase(ctx: Context): Promise<StallResult> {
  const line = (r: StallRun) =>
    `  stall ${r.job}: ${JSON.stringify(r.processed)} in ${(r.jobMs / 1000).toFixed(1)} s${r.complete ? '' : ' (NOT complete)'}; webhooks at ${ctx.plan.stall.rate}/s: ` +
    `p50 ${r.webhooks.p50Ms.toFixed(1)} ms, p99 ${r.webhooks.p99Ms.toFixed(1)} ms, max ${r.webhooks.maxMs.toFixed(0)} ms (${r.webhooks.accepted}/${r.webhooks.due} accepted), RSS ${r.peakRssMb.toFixed(0)} MB`;
  if (OTHER_WRITES_MB > 0) ctx.log(`  another process writes ${OTHER_WRITES_MB} MB to the store's disk every 3 s while each job runs (BENCH_STALL_OTHER_WRITES_MB)`);
  const syncReplay = await syncReplayRun(ctx);
  ctx.log(line(syncReplay));
  ctx.log(`    ${diagnosisLine(syncReplay.diagnosis)}`);
  const replay = await replayRun(ctx);
  ctx.log(line(replay));
  ctx.log(`    ${diagnosisLine(replay.diagnosis)}`);
  const prune = await pruneRun(ctx);
  ctx.log(line(prune));
  ctx.log(`    ${diagnosisLine(prune.diagnosis)}`);
  return { rate: ctx.plan.stall.rate, syncReplay, replay, prune };
}
