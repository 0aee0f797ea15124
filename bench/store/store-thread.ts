/**
 * The SQLite store on its own thread (issue 12), side by side with a build of the code before it
 * (`--before=path/to/dist/src/server.js`, e.g. main built in a scratch worktree), alternating A B B A.
 * Ingest with wrk, 32 connections, durable commits (STORE_SYNCHRONOUS=full): webhooks/s, p99, and CPU
 * per accepted webhook, for the whole process and for the main thread (the event loop) alone; the
 * store thread's share is read by its name ('sqlite-store') from /proc/<pid>/task/<tid>/comm.
 * The replay/prune stall is bench/stall/replay-stall.ts's (it takes --before too).
 * `npm run bench:store-thread -- --before=... [--rounds=2] [--seconds=8]` (about 2 minutes).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORE_THREAD_NAME } from '../../src/store/sqlite/thread.js';
import { startFastDcs, startFastIms } from '../fakes/fake-adobe-fast.js';
import { relayEnv, sampleProcess, startRelay, startRelayBuild, type ServerProcess } from '../harness/processes.js';
import { loadSamples } from '../load/samples.js';
import { median } from '../harness/stats.js';
import { runWrk, writeWrkScript, wrkPath } from '../load/wrk.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(arg('seconds') ?? 8);
const rounds = Number(arg('rounds') ?? 2);
const before = arg('before');

/** CPU seconds of each thread of a process, by thread name (the main thread's id is the process id). */
function threadCpuSeconds(pid: number): { main: number; byName: Map<string, number> } {
  const byName = new Map<string, number>();
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (Number(tid) === pid) main = cpu;
      byName.set(name, (byName.get(name) ?? 0) + cpu);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { main, byName };
}

type Side = 'before' | 'after';
interface Round {
  side: Side;
  rps: number;
  p99Ms: number;
  cpuUsPerWebhook: number;
  mainCpuUsPerWebhook: number;
  storeThreadCpuUsPerWebhook: number;
}

async function main() {
  const wrk = wrkPath();
  if (!wrk) throw new Error('bench: wrk not found (apt-get install wrk)');
  if (!before) throw new Error('bench: give --before=path/to/dist/src/server.js (the code before the store thread)');
  const work = mkdtempSync(join(tmpdir(), 'bench-store-thread-'));
  const ims = await startFastIms();
  const dcs = await startFastDcs();
  const script = writeWrkScript(work, loadSamples());
  const order: Side[] = Array.from({ length: rounds }, () => ['before', 'after', 'after', 'before'] as Side[]).flat();
  const results: Round[] = [];
  try {
    for (const [i, side] of order.entries()) {
      const run = i + 1;
      const dir = join(work, `ingest-${run}`);
      mkdirSync(dir, { recursive: true });
      const env = relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: { STORE_SYNCHRONOUS: 'full' } });
      const server: ServerProcess = side === 'before' ? await startRelayBuild(before, env) : await startRelay(env);
      const load = (s: number) => runWrk(wrk, { url: server.url, script, prefix: `st${Date.now()}x${run}`, seconds: s, connections: 32, threads: 1 });
      let round: Round;
      try {
        await load(2);
        const cpu0 = sampleProcess(server.pid)!.cpuSeconds;
        const threads0 = threadCpuSeconds(server.pid);
        const ingest = await load(seconds);
        const cpu = sampleProcess(server.pid)!.cpuSeconds - cpu0;
        const threads1 = threadCpuSeconds(server.pid);
        const accepted = ingest.requests - ingest.errors;
        const perWebhook = (s: number) => (s / accepted) * 1e6;
        const storeThread = (threads1.byName.get(STORE_THREAD_NAME) ?? 0) - (threads0.byName.get(STORE_THREAD_NAME) ?? 0);
        round = {
          side,
          rps: ingest.rps,
          p99Ms: ingest.p99Ms,
          cpuUsPerWebhook: perWebhook(cpu),
          mainCpuUsPerWebhook: perWebhook(threads1.main - threads0.main),
          storeThreadCpuUsPerWebhook: perWebhook(storeThread),
        };
        process.stdout.write(
          `${side.padEnd(6)} round ${run}: ${Math.round(round.rps)} webhooks/s, p99 ${round.p99Ms.toFixed(1)} ms, ${round.cpuUsPerWebhook.toFixed(0)} µs CPU/webhook ` +
            `(main thread ${round.mainCpuUsPerWebhook.toFixed(0)}, store thread ${round.storeThreadCpuUsPerWebhook.toFixed(0)}), errors ${ingest.errors}\n`,
        );
      } finally {
        await server.stop();
      }
      results.push(round);
    }
  } finally {
    await Promise.all([ims.close(), dcs.close()]);
    rmSync(work, { recursive: true, force: true });
  }
  const med = (side: Side, key: keyof Omit<Round, 'side'>) => median(results.filter((r) => r.side === side).map((r) => r[key]));
  const keys = ['rps', 'p99Ms', 'cpuUsPerWebhook', 'mainCpuUsPerWebhook', 'storeThreadCpuUsPerWebhook'] as const;
  const summary = {
    seconds,
    rounds,
    medians: Object.fromEntries((['before', 'after'] as const).map((side) => [side, Object.fromEntries(keys.map((k) => [k, Number(med(side, k).toFixed(1))]))])),
    afterOverBefore: Object.fromEntries(keys.filter((k) => k !== 'storeThreadCpuUsPerWebhook').map((k) => [k, Number((med('after', k) / med('before', k)).toFixed(3))])),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

void main();
