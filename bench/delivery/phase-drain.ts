import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Context } from '../context.js';
import type { DcsStats } from '../fakes/fake-adobe-fast.js';
import type { GenResult } from '../load/load-gen.js';
import { monitor, relayEnv, sampleProcess, startRelay } from '../harness/processes.js';
import { metricSum, queuePending, scrape, sleep, until } from '../harness/stats.js';

export interface HeapStats {
  usedMb: number;
  totalMb: number;
  externalMb: number;
}

/** V8 heap and external memory as the relay's own /metrics report them (prom-client defaults). */
async function heapStats(url: string): Promise<HeapStats | undefined> {
  try {
    const text = await scrape(url);
    const mb = (name: string) => metricSum(text, name) / 2 ** 20;
    return { usedMb: mb('nodejs_heap_size_used_bytes'), totalMb: mb('nodejs_heap_size_total_bytes'), externalMb: mb('nodejs_external_memory_bytes') };
  } catch {
    return undefined;
  }
}

export interface DrainRun {
  label: string;
  messages: number;
  /** From Adobe coming back (or the relay starting) to the first message reaching it, ms. */
  toFirstMs: number;
  /** Messages/s from the first message to the last. */
  rate: number;
  /** Messages/s from the first message to 99% of the backlog (leaves out the retry-backoff tail). */
  rate99: number;
  totalMs: number;
  dcs: DcsStats;
  peakRssMb: number;
  cpuCores: number;
  complete: boolean;
  /** Largest V8 heap (used, total) and external memory seen while draining. */
  heapPeak: HeapStats | undefined;
}

export interface DrainResult {
  backlog: number;
  load: GenResult;
  /** The fresh relay at rest (empty store), with the backlog at rest, and while loading it. */
  rssFreshMb: number;
  rssBacklogMb: number;
  heapFresh: HeapStats | undefined;
  heapBacklog: HeapStats | undefined;
  loadPeakRssMb: number;
  pendingAtRest: number | undefined;
  capped: DrainRun;
  uncapped: DrainRun | undefined;
  /** A consistent copy of the backlog store (for the profiled drain), or undefined. */
  profileStoreDir: string | undefined;
  settings: Record<string, string>;
}

/** A consistent copy of a live SQLite store (VACUUM INTO reads a snapshot; the relay keeps running). */
function snapshotStore(fromDir: string, toDir: string): void {
  const db = new Database(join(fromDir, 'relay.db'));
  try {
    db.prepare('VACUUM INTO ?').run(join(toDir, 'relay.db'));
  } finally {
    db.close();
  }
}

export async function awaitDrain(ctx: Context, label: string, n: number, from: number, pid: number, timeoutMs: number, url?: string): Promise<DrainRun> {
  const mon = monitor(pid);
  // The relay's V8 heap while draining (read from its /metrics), to tell heap from native memory.
  let heapPeak: HeapStats | undefined;
  let sampling = url !== undefined;
  const sampler = (async () => {
    while (sampling) {
      const h = await heapStats(url!);
      if (h) heapPeak = { usedMb: Math.max(h.usedMb, heapPeak?.usedMb ?? 0), totalMb: Math.max(h.totalMb, heapPeak?.totalMb ?? 0), externalMb: Math.max(h.externalMb, heapPeak?.externalMb ?? 0) };
      await sleep(500);
    }
  })();
  const complete = await until(() => ctx.dcs.stats().messages >= n, timeoutMs, 50);
  sampling = false;
  await sampler;
  const dcs = ctx.dcs.stats();
  const peakRssMb = mon.peakMb();
  const cpuCores = mon.cpuCores();
  mon.stop();
  const first = dcs.firstMessageAt ?? NaN;
  const last = dcs.lastMessageAt ?? NaN;
  const at99 = ctx.dcs.timeOfMessage(Math.ceil(n * 0.99)) ?? NaN;
  const run: DrainRun = {
    label,
    messages: dcs.messages,
    toFirstMs: first - from,
    rate: dcs.messages / Math.max(0.001, (last - first) / 1000),
    rate99: (n * 0.99) / Math.max(0.001, (at99 - first) / 1000),
    totalMs: last - from,
    dcs,
    peakRssMb,
    cpuCores,
    complete,
    heapPeak,
  };
  ctx.log(
    `  drain ${label}: ${dcs.messages}/${n} messages, first after ${run.toFirstMs} ms, ${Math.round(run.rate)} msg/s (to 99%: ${Math.round(run.rate99)} msg/s), ` +
      `max ${dcs.maxRequestsPerSecond} req/s, ${dcs.maxMessagesPerSecond} msg/s in any 1 s, largest request ${dcs.maxRequestBytes} B, ` +
      `RSS ${peakRssMb.toFixed(0)} MB, CPU ${(cpuCores * 100).toFixed(0)}%`,
  );
  return run;
}

/**
 * 3 and 4. Drain and memory: a backlog queued while the fake Adobe is down (connections refused),
 * then the time until all of it reached Adobe once back, under Adobe's limits; the relay's RSS while
 * the backlog sits on disk. Then the same backlog drained with the relay's own rate caps lifted, to
 * tell whether the cap or the relay sets the pace.
 */
export async function drainPhase(ctx: Context): Promise<DrainResult> {
  const p = ctx.plan.drain;
  const n = p.backlog;
  const settings: Record<string, string> = p.circuitOpenMs === undefined ? {} : { CIRCUIT_OPEN_MS: String(p.circuitOpenMs) };
  const dirA = ctx.freshDir('drain');
  const relay = await startRelay(relayEnv({ dir: dirA, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: settings }));
  let result: DrainResult;
  let uncappedDir: string | undefined;
  let profileStoreDir: string | undefined;
  try {
    await sleep(2000);
    const rssFreshMb = sampleProcess(relay.pid)?.rssMb ?? NaN;
    const heapFresh = await heapStats(relay.opsUrl);
    await ctx.dcs.outage();
    const monLoad = monitor(relay.pid);
    ctx.log(`  drain: Adobe down; queueing ${n} webhooks...`);
    const load = await ctx.gen.run({ cmd: 'count', url: relay.url, prefix: `backlog${Date.now()}`, n, concurrency: 64 });
    const loadPeakRssMb = monLoad.peakMb();
    monLoad.stop();
    ctx.log(`  drain: ${load.accepted} accepted in ${load.elapsedS.toFixed(1)} s (${Math.round(load.accepted / load.elapsedS)}/s, ack p99 ${load.p99Ms.toFixed(1)} ms), RSS peak ${loadPeakRssMb.toFixed(0)} MB`);
    await sleep(3000);
    const rssBacklogMb = sampleProcess(relay.pid)?.rssMb ?? NaN;
    const heapBacklog = await heapStats(relay.opsUrl);
    const pendingAtRest = await queuePending(relay.opsUrl);
    ctx.log(`  drain: at rest with ${pendingAtRest} pending: RSS ${rssBacklogMb.toFixed(0)} MB (fresh relay: ${rssFreshMb.toFixed(0)} MB)`);

    uncappedDir = ctx.freshDir('uncapped');
    snapshotStore(dirA, uncappedDir);
    if (ctx.plan.profile) {
      profileStoreDir = ctx.freshDir('profile-drain');
      snapshotStore(dirA, profileStoreDir);
    }

    ctx.dcs.reset();
    const restoredAt = Date.now();
    await ctx.dcs.restore();
    const capped = await awaitDrain(ctx, 'capped (defaults)', n, restoredAt, relay.pid, 240_000, relay.opsUrl);
    await relay.stop();

    ctx.dcs.reset();
    const uncappedSettings = { ...settings, AEP_MAX_MESSAGES_PER_SECOND: '1000000', AEP_MAX_REQUESTS_PER_SECOND: '100000' };
    const started = Date.now();
    const u = await startRelay(relayEnv({ dir: uncappedDir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: uncappedSettings }));
    let uncapped: DrainRun | undefined;
    try {
      uncapped = await awaitDrain(ctx, 'caps lifted', n, started, u.pid, 240_000, u.opsUrl);
    } finally {
      await u.stop();
    }
    result = { backlog: n, load, rssFreshMb, rssBacklogMb, heapFresh, heapBacklog, loadPeakRssMb, pendingAtRest, capped, uncapped, profileStoreDir, settings };
  } finally {
    await ctx.dcs.restore().catch(() => undefined);
    await relay.stop();
    rmSync(dirA, { recursive: true, force: true });
    if (uncappedDir) rmSync(uncappedDir, { recursive: true, force: true });
  }
  return result;
}
