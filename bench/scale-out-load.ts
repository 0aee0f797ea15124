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

/** Busy cores of the whole machine (all processes) between start and stop, from /proc/stat. */
export function machineCpu(): { stop(): number } {
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const start = read();
  const cores = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length;
  return {
    stop() {
      const end = read();
      const total = end.total - start.total;
      return total === 0 ? 0 : ((total - (end.idle - start.idle)) / total) * cores;
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
