/**
 * Load for the scale-out benchmark (bench/scale-out/scale-out.ts): a count-exact undici loader for the drain
 * backlog, and the machine's CPU use. wrk and the samples are bench/load/wrk.ts's and bench/load/samples.ts's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { AUTH_SECRET, bodyOf, WEBHOOK_PATH, type SampleTemplate } from '../load/samples.js';

export type { WrkResult } from '../load/wrk.js';

// ------------------------------------------------------------------ load

/** Posts exactly `n` webhooks with unique ids, `concurrency` at a time; returns how many got a 202. */
export async function postCount(url: string, samples: SampleTemplate[], prefix: string, n: number, concurrency: number): Promise<number> {
  const pool = new Pool(url, { connections: concurrency, keepAliveTimeout: 30_000 });
  let next = 0;
  let accepted = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          const res = await pool.request({
            path: WEBHOOK_PATH,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: AUTH_SECRET },
            body: bodyOf(samples, i, `${prefix}-${i}`),
          });
          await res.body.text();
          if (res.statusCode === 202) accepted += 1;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return accepted;
}

// ------------------------------------------------------------------ machine CPU

export interface CpuUse {
  /** Busy cores of the whole machine. */
  machine: number;
  /** Of which the bench's own processes: the three below. */
  own: number;
  replicas: number;
  /** PostgreSQL's processes, when the bench started the server (else counted in `other`). */
  postgres: number;
  /** This process (fake Adobe) and wrk. */
  load: number;
  /** Everything else running on the machine meanwhile: what makes a round noisy. */
  other: number;
}

/** utime + stime (+ cutime + cstime of waited-for children if `withChildren`), in clock ticks. */
function ticksOf(pid: number, withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return f[11]! + f[12]! + (withChildren ? f[13]! + f[14]! : 0);
  } catch {
    return 0; // exited
  }
}

/** The live children of `ppid` (PostgreSQL's backends are children of the postmaster). */
function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * CPU use between start and stop, from /proc (Linux): the whole machine, and the bench's own
 * processes. An exited child's time moves into its parent's cutime/cstime, so wrk (waited for by
 * this process) and PostgreSQL's finished backends (by the postmaster) are still counted.
 */
export function cpuWindow(own: { replicas: number[]; postmaster: number | undefined }): { stop(): CpuUse } {
  const machine = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
  };
  const ownTicks = () => ({
    load: ticksOf(process.pid, true),
    replicas: own.replicas.reduce((n, pid) => n + ticksOf(pid, false), 0),
    postgres: own.postmaster === undefined ? 0 : ticksOf(own.postmaster, true) + childrenOf(own.postmaster).reduce((n, pid) => n + ticksOf(pid, false), 0),
  });
  const cores = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length;
  const [m0, o0] = [machine(), ownTicks()];
  return {
    stop() {
      const [m1, o1] = [machine(), ownTicks()];
      const perCore = (m1.total - m0.total) / cores;
      if (perCore <= 0) return { machine: 0, own: 0, replicas: 0, postgres: 0, load: 0, other: 0 };
      const busy = (m1.total - m0.total - (m1.idle - m0.idle)) / perCore;
      const replicas = (o1.replicas - o0.replicas) / perCore;
      const postgres = (o1.postgres - o0.postgres) / perCore;
      const load = (o1.load - o0.load) / perCore;
      const mine = Math.min(busy, replicas + postgres + load);
      return { machine: busy, own: mine, replicas, postgres, load, other: Math.max(0, busy - mine) };
    },
  };
}
