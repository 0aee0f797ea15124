/**
 * Load for the scale-out benchmark (bench/scale-out.ts): the Capillary samples with unique eventIds,
 * wrk with a script that spreads its threads over the replicas, a count-exact undici loader for the
 * drain backlog, and the machine's CPU use.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { AUTH_SECRET, ROOT, WEBHOOK_PATH } from './scale-out-servers.js';

// ------------------------------------------------------------------ samples

/** Each Capillary sample as the JSON text before and after its eventId value. */
export interface Template {
  before: string;
  after: string;
}

export function loadTemplates(): Template[] {
  const dir = join(ROOT, 'test', 'fixtures', 'capillary');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const text = JSON.stringify({ ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object), eventId: '@@EVENT_ID@@' });
      const [before, after] = text.split('@@EVENT_ID@@') as [string, string];
      return { before, after };
    });
}

// ------------------------------------------------------------------ load

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

const luaString = (s: string) => `[==[${s}]==]`;

/**
 * A wrk script whose threads are spread over the replicas' ports in turn (thread.addr), so one wrk
 * process keeps one latency histogram for the whole load; each request has a unique eventId.
 */
export function writeWrkScript(dir: string, templates: Template[], ports: number[]): string {
  const path = join(dir, `scale-out-${ports.join('-')}.lua`);
  writeFileSync(
    path,
    `
local befores = { ${templates.map((t) => luaString(t.before)).join(', ')} }
local afters = { ${templates.map((t) => luaString(t.after)).join(', ')} }
local ports = { ${ports.map((p) => `"${p}"`).join(', ')} }
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "${AUTH_SECRET}" }
local count = 0

function setup(thread)
  count = count + 1
  thread.addr = wrk.lookup("127.0.0.1", ports[((count - 1) % #ports) + 1])[1]
  thread:set("tid", count)
end

function init(args)
  prefix = args[1] or "bench"
  counter = 0
end

function request()
  counter = counter + 1
  local i = (counter % #befores) + 1
  return wrk.format("POST", "${WEBHOOK_PATH}", headers, befores[i] .. prefix .. "-" .. tid .. "-" .. counter .. afters[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"wrk":true,"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`,
  );
  return path;
}

export function runWrk(o: { bin: string; url: string; script: string; prefix: string; seconds: number; threads: number; connections: number }): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', o.script, `${o.url}${WEBHOOK_PATH}`, '--', o.prefix];
  return new Promise((resolve, reject) => {
    execFile(o.bin, args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"wrk":true'));
      if (!line) return reject(new Error(`bench: wrk failed: ${error?.message ?? ''}\n${stdout}\n${stderr}`));
      const r = JSON.parse(line) as { requests: number; durationUs: number; p50Us: number; p99Us: number; errors: number };
      resolve({ requests: r.requests, rps: r.requests / (r.durationUs / 1e6), p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, errors: r.errors });
    });
  });
}

/** Posts exactly `n` webhooks with unique ids, `concurrency` at a time; returns how many got a 202. */
export async function postCount(url: string, templates: Template[], prefix: string, n: number, concurrency: number): Promise<number> {
  const pool = new Pool(url, { connections: concurrency, keepAliveTimeout: 30_000 });
  let next = 0;
  let accepted = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          const t = templates[i % templates.length]!;
          const res = await pool.request({
            path: WEBHOOK_PATH,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: AUTH_SECRET },
            body: `${t.before}${prefix}-${i}${t.after}`,
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until true or `timeoutMs`; resolves whether it became true. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}
