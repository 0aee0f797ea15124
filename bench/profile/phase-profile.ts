import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { relayEnv, startRelay } from '../harness/processes.js';
import { summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { ROOT } from '../../support/repo-root.js';
import { until } from '../harness/stats.js';
import { runWrk, type WrkResult } from '../load/wrk.js';

/** Where the .cpuprofile files are kept (open them in Chrome DevTools or speedscope). */
export const PROFILE_DIR = join(ROOT, 'dist', 'bench-profiles');

export interface ProfileResult {
  /** `store`: the SQLite store's thread during the same run (its own .cpuprofile). */
  ingest: { summary: ProfileSummary; wrk: WrkResult; store?: ProfileSummary };
  ingestNormal: { summary: ProfileSummary; wrk: WrkResult };
  drain: { summary: ProfileSummary; messages: number; seconds: number } | undefined;
}

/**
 * Node writes one profile per thread, named CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile:
 * thread 0 is the event loop. Of the others, the store's thread is the busiest by far (the WAL
 * checkpoint thread wakes once a second), so it is the largest file.
 */
function profiledFile(dir: string, thread: 'main' | 'store' = 'main'): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threadOf = (f: string) => f.split('.').at(-3);
  if (thread === 'main') {
    const file = files.find((f) => threadOf(f) === '0');
    if (!file) throw new Error(`bench: no .cpuprofile of the main thread written in ${dir}`);
    return join(dir, file);
  }
  const workers = files.filter((f) => threadOf(f) !== '0').map((f) => join(dir, f));
  return workers.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

/**
 * The relay under `node --cpu-prof`: once during ingest (wrk as in phase 1, fresh store, delivery
 * running) and once draining the backlog of phase 3 (a copy of its store) with production caps.
 */
export async function profilePhase(ctx: Context, drainStoreDir: string | undefined, backlog: number): Promise<ProfileResult> {
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  const profiled = (name: string) => {
    const dir = join(PROFILE_DIR, name);
    mkdirSync(dir, { recursive: true });
    return { dir, args: ['--cpu-prof', '--cpu-prof-dir', dir] };
  };

  /** wrk as in phase 1 on a relay under --cpu-prof, fresh store, delivery running, with `extra` settings. */
  const profiledIngest = async (name: string, prefix: string, extra: Record<string, string>) => {
    const prof = profiled(name);
    const storeDir = ctx.freshDir(`profile-${name}`);
    const started = performance.now();
    const relay = await startRelay(relayEnv({ dir: storeDir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra }), prof.args);
    const startupMs = performance.now() - started;
    try {
      const p = ctx.plan.ingest;
      const wrk = await runWrk(ctx.wrk, { url: relay.url, script: ctx.wrkScript, prefix: `${prefix}${Date.now()}`, seconds: ctx.plan.profiling.ingestSeconds, connections: p.connections, threads: p.threads });
      return { dir: prof.dir, startupMs, wrk };
    } finally {
      await relay.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  };

  const run = await profiledIngest('ingest', 'prof', {});
  const storeFile = profiledFile(run.dir, 'store');
  const ingest = {
    summary: summarizeProfile(profiledFile(run.dir)!, 25, run.startupMs),
    wrk: run.wrk,
    ...(storeFile ? { store: summarizeProfile(storeFile, 25, run.startupMs) } : {}),
  };
  ctx.log(`  profile ingest: ${Math.round(run.wrk.rps)} req/s under --cpu-prof; main thread idle ${(ingest.summary.idleShare * 100).toFixed(0)}%`);

  // The same with STORE_SYNCHRONOUS=normal: what is left when commits do not wait for fsync.
  const normal = await profiledIngest('ingest-normal', 'profn', { STORE_SYNCHRONOUS: 'normal' });
  const normalWrk = normal.wrk;
  const ingestNormal = { summary: summarizeProfile(profiledFile(normal.dir)!, 25, normal.startupMs), wrk: normalWrk };
  ctx.log(`  profile ingest, STORE_SYNCHRONOUS=normal: ${Math.round(normalWrk.rps)} req/s under --cpu-prof; main thread idle ${(ingestNormal.summary.idleShare * 100).toFixed(0)}%`);

  let drain: ProfileResult['drain'];
  if (drainStoreDir) {
    const drainProf = profiled('drain');
    ctx.dcs.reset();
    const started = Date.now();
    const t = performance.now();
    const r = await startRelay(relayEnv({ dir: drainStoreDir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims }), drainProf.args);
    const drainStartupMs = performance.now() - t;
    try {
      await until(() => ctx.dcs.stats().messages >= backlog, 240_000, 100);
    } finally {
      await r.stop();
      rmSync(drainStoreDir, { recursive: true, force: true });
    }
    const s = ctx.dcs.stats();
    drain = { summary: summarizeProfile(profiledFile(drainProf.dir)!, 25, drainStartupMs), messages: s.messages, seconds: ((s.lastMessageAt ?? started) - started) / 1000 };
    ctx.log(`  profile drain: ${s.messages} messages in ${drain.seconds.toFixed(1)} s under --cpu-prof; main thread idle ${(drain.summary.idleShare * 100).toFixed(0)}%`);
  }
  return { ingest, ingestNormal, drain };
}
