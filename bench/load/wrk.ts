import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_SECRET, WEBHOOK_PATH, type SampleTemplate } from './samples.js';

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts. */
  errors: number;
}

export function wrkPath(): string | undefined {
  for (const candidate of ['/usr/bin/wrk', '/usr/local/bin/wrk']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch (error) {
      // `wrk -v` prints its version and exits 1: it exists if it ran at all.
      if ((error as { status?: number }).status !== undefined && (error as NodeJS.ErrnoException).code !== 'ENOENT') return candidate;
    }
  }
  return undefined;
}

export function wrkVersion(bin: string): string {
  try {
    execFileSync(bin, ['-v'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '');
    return /wrk\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  }
  return 'unknown';
}

const luaString = (s: string) => `[==[${s}]==]`;

/**
 * A wrk script POSTing the samples in turn, each with a unique eventId: the run's prefix, wrk's thread
 * number and a per-thread counter. Its done() prints the result as one JSON line.
 */
export function writeWrkScript(dir: string, samples: SampleTemplate[], ports?: number[]): string {
  const path = join(dir, ports ? `webhooks-${ports.join('-')}.lua` : 'webhooks.lua');
  // With `ports`, wrk's threads are spread over them in turn (thread.addr): one wrk process, one
  // latency histogram for the load on several replicas (bench/scale-out/scale-out.ts).
  const spread = ports
    ? `local ports = { ${ports.map((p) => `"${p}"`).join(', ')} }\n` +
      'function spreadThread(thread, n) thread.addr = wrk.lookup("127.0.0.1", ports[((n - 1) % #ports) + 1])[1] end\n'
    : 'function spreadThread(thread, n) end\n';
  const lua = `
local befores = { ${samples.map((s) => luaString(s.before)).join(', ')} }
local afters = { ${samples.map((s) => luaString(s.after)).join(', ')} }
local n = #befores
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "${AUTH_SECRET}" }
local threads = {}

${spread}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
  spreadThread(thread, #threads)
end

function init(args)
  prefix = args[1] or "bench"
  counter = 0
end

function request()
  counter = counter + 1
  local i = (counter % n) + 1
  return wrk.format("POST", "${WEBHOOK_PATH}", headers, befores[i] .. prefix .. "-" .. tid .. "-" .. counter .. afters[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"wrk":true,"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;
  writeFileSync(path, lua);
  return path;
}

/** `cpu`: run wrk pinned to that core (taskset), for the pinned ingest rounds. */
export function runWrk(bin: string, o: { url: string; script: string; prefix: string; seconds: number; connections: number; threads: number; cpu?: number }): Promise<WrkResult> {
  const wrkArgs = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', o.script, `${o.url}${WEBHOOK_PATH}`, '--', o.prefix];
  const [command, args] = o.cpu === undefined ? [bin, wrkArgs] : ['taskset', ['-c', String(o.cpu), bin, ...wrkArgs]];
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"wrk":true'));
      if (!line) return reject(new Error(`bench: wrk failed: ${error?.message ?? ''}\n${stdout}\n${stderr}`));
      const r = JSON.parse(line) as { requests: number; durationUs: number; p50Us: number; p99Us: number; maxUs: number; errors: number };
      const durationS = r.durationUs / 1e6;
      resolve({
        requests: r.requests,
        durationS,
        rps: r.requests / durationS,
        p50Ms: r.p50Us / 1000,
        p99Ms: r.p99Us / 1000,
        maxMs: r.maxUs / 1000,
        errors: r.errors,
      });
    });
  });
}
