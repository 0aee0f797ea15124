import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFastDcs, startFastIms, type FastDcs, type FastIms } from './fakes/fake-adobe-fast.js';
import { startLoadGen, type LoadGen } from './load/load-gen-client.js';
import { loadSamples, type SampleTemplate } from './load/samples.js';
import { writeWrkScript } from './load/wrk.js';

/** What a run measures, and for how long: the full run (about 11 minutes here) or --quick. */
export interface Plan {
  quick: boolean;
  profile: boolean;
  /** `rounds` unpinned, then `pinnedRounds` with each server on one core and wrk on the other. */
  ingest: { rounds: number; pinnedRounds: number; seconds: number; warmupSeconds: number; connections: number; threads: number; diagnoseFsync: boolean };
  sustained: { rates: number[]; seconds: number };
  drain: { backlog: number; circuitOpenMs: number | undefined };
  outage: { rate: number; healthySeconds: number; seconds: number };
  sync: { rounds: number; rate: number; seconds: number; wrkSeconds: number; connections: number; adobeDelayMs: number };
  profiling: { ingestSeconds: number; drainBacklog: number };
  /** Webhooks at `rate`/s while a replay of `replayEvents` and a prune of `pruneRows` delivered messages (and their events) run. */
  stall: { rate: number; syncReplayEvents: number; syncReplayStore: number; replayEvents: number; pruneRows: number; maxSeconds: number };
  postgres: { rounds: number; seconds: number; warmupSeconds: number; connections: number };
}

export function makePlan(quick: boolean, profile: boolean): Plan {
  return quick
    ? {
        quick,
        profile,
        ingest: { rounds: 1, pinnedRounds: 1, seconds: 3, warmupSeconds: 1, connections: 32, threads: 1, diagnoseFsync: true },
        sustained: { rates: [1000, 3000], seconds: 3 },
        // A short run cannot wait out the production circuit-open time (30 s).
        drain: { backlog: 10_000, circuitOpenMs: 2000 },
        outage: { rate: 1000, healthySeconds: 2, seconds: 3 },
        sync: { rounds: 1, rate: 200, seconds: 3, wrkSeconds: 3, connections: 32, adobeDelayMs: 100 },
        profiling: { ingestSeconds: 3, drainBacklog: 10_000 },
        stall: { rate: 200, syncReplayEvents: 5_000, syncReplayStore: 20_000, replayEvents: 5_000, pruneRows: 10_000, maxSeconds: 60 },
        postgres: { rounds: 2, seconds: 3, warmupSeconds: 1, connections: 32 },
      }
    : {
        quick,
        profile,
        ingest: { rounds: 4, pinnedRounds: 4, seconds: 8, warmupSeconds: 2, connections: 32, threads: 1, diagnoseFsync: true },
        sustained: { rates: [1000, 2000, 3000, 5000, 7000, 10000], seconds: 10 },
        drain: { backlog: 100_000, circuitOpenMs: undefined },
        // As measured for issue 12: 6 s of 503s while webhooks keep coming, after 10 s of traffic
        // (the circuit breaker's window is a minute of requests, nearly all of them successes).
        outage: { rate: 1500, healthySeconds: 10, seconds: 6 },
        sync: { rounds: 3, rate: 200, seconds: 8, wrkSeconds: 5, connections: 32, adobeDelayMs: 100 },
        profiling: { ingestSeconds: 10, drainBacklog: 100_000 },
        stall: { rate: 200, syncReplayEvents: 10_000, syncReplayStore: 40_000, replayEvents: 100_000, pruneRows: 1_000_000, maxSeconds: 300 },
        postgres: { rounds: 4, seconds: 6, warmupSeconds: 2, connections: 32 },
      };
}

export interface Context {
  plan: Plan;
  wrk: string;
  wrkScript: string;
  samples: SampleTemplate[];
  ims: FastIms;
  dcs: FastDcs;
  gen: LoadGen;
  /** Scratch directory of the run (stores, profiles); removed at the end. */
  dir: string;
  /** A fresh directory for one relay's store. */
  freshDir(name: string): string;
  log(message: string): void;
}

export function scratch(): { dir: string; fresh(name: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  let n = 0;
  return {
    dir,
    fresh: (name) => mkdtempSync(join(dir, `${name}-${(n += 1)}-`)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What every bench run starts (a scratch folder, the fast fake Adobe, the load generator, wrk's script), and its cleanup. */
export async function startContext(plan: Plan, wrk: string, log: (message: string) => void): Promise<{ ctx: Context; close(): Promise<void> }> {
  const work = scratch();
  const samples = loadSamples();
  const ims = await startFastIms();
  const dcs = await startFastDcs();
  const gen = await startLoadGen();
  const ctx: Context = { plan, wrk, wrkScript: writeWrkScript(work.dir, samples), samples, ims, dcs, gen, dir: work.dir, freshDir: work.fresh, log };
  const close = async () => {
    await gen.close();
    await dcs.close();
    await ims.close();
    work.remove();
  };
  return { ctx, close };
}
