/**
 * The benchmark's load generator, run as a child process (its own event loop and core share) and
 * driven over IPC by run.ts. Two modes:
 *   - `rate`: open loop at a fixed rate, whatever the server does (latency is measured from the time
 *     each request was due, so a stalled server cannot hide its stall: no coordinated omission);
 *   - `count`: exactly `n` webhooks as fast as `concurrency` connections allow (to build a backlog).
 * Every body is a Capillary sample with a unique eventId.
 */
import { Pool } from 'undici';
import { AUTH_SECRET, WEBHOOK_PATH, bodyOf, loadSamples } from './samples.js';

export type GenCommand =
  | { cmd: 'rate'; url: string; prefix: string; rate: number; seconds: number; connections: number; maxOutstanding: number }
  | { cmd: 'count'; url: string; prefix: string; n: number; concurrency: number }
  /** Ends a running `rate` schedule now (while a job of unknown length runs); no answer of its own. */
  | { cmd: 'stop' }
  | { cmd: 'exit' };

export interface GenResult {
  /** Requests the schedule called for. */
  due: number;
  sent: number;
  /** 202 answers. */
  accepted: number;
  /** Other statuses, by code. */
  statuses: Record<string, number>;
  networkErrors: number;
  /** Not sent: the server was so far behind that `maxOutstanding` requests were waiting. */
  skipped: number;
  elapsedS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** `rate` only: the slowest answers (SLOW_MS or more), as [epoch ms when due, latency ms], at most MAX_SLOW: to line stalls up with the relay's logs. */
  slow?: Array<[number, number]>;
}

const SLOW_MS = 40;
const MAX_SLOW = 400;

const samples = loadSamples();
const headers = { 'content-type': 'application/json', authorization: AUTH_SECRET };
const pools = new Map<string, Pool>();
let stopRequested = false;

function poolFor(url: string, connections: number): Pool {
  const key = `${url}#${connections}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
    pools.set(key, pool);
  }
  return pool;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(latencies: number[], base: Omit<GenResult, 'p50Ms' | 'p99Ms' | 'maxMs' | 'slow'> & { slow?: Array<[number, number]> }): GenResult {
  const sorted = Float64Array.from(latencies).sort();
  return { ...base, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.length ? sorted[sorted.length - 1]! : 0 };
}

async function rate(c: Extract<GenCommand, { cmd: 'rate' }>): Promise<GenResult> {
  const pool = poolFor(c.url, c.connections);
  const latencies: number[] = [];
  const slow: Array<[number, number]> = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let accepted = 0;
  let networkErrors = 0;
  let skipped = 0;
  let outstanding = 0;
  let n = 0;
  let total = Math.round(c.rate * c.seconds);
  stopRequested = false;
  const interval = 1000 / c.rate;
  const start = performance.now();
  let allSent!: () => void;
  const finished = new Promise<void>((resolve) => (allSent = resolve));
  const settle = () => {
    outstanding -= 1;
    if (n >= total && outstanding === 0) allSent();
  };

  const send = (dueAt: number) => {
    const id = `${c.prefix}-${n}`;
    const body = bodyOf(samples, n, id);
    sent += 1;
    outstanding += 1;
    pool.request({ path: WEBHOOK_PATH, method: 'POST', headers, body }).then(
      async (res) => {
        await res.body.dump();
        const latency = performance.now() - dueAt;
        latencies.push(latency);
        if (latency >= SLOW_MS && slow.length < MAX_SLOW) slow.push([Math.round(performance.timeOrigin + dueAt), Math.round(latency)]);
        if (res.statusCode === 202) accepted += 1;
        else statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        settle();
      },
      () => {
        networkErrors += 1;
        settle();
      },
    );
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      if (stopRequested) total = n;
      const now = performance.now();
      const dueNow = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (n < dueNow) {
        const dueAt = start + n * interval;
        if (outstanding >= c.maxOutstanding) skipped += 1;
        else send(dueAt);
        n += 1;
      }
      if (n >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  if (outstanding > 0) await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  const elapsedS = (performance.now() - start) / 1000;
  return summarize(latencies, { due: n, sent, accepted, statuses, networkErrors, skipped, elapsedS, slow });
}

async function count(c: Extract<GenCommand, { cmd: 'count' }>): Promise<GenResult> {
  const pool = poolFor(c.url, c.concurrency);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  let networkErrors = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < c.n) {
      const n = next++;
      const body = bodyOf(samples, n, `${c.prefix}-${n}`);
      // A refusal (429, 503) is retried: the backlog must hold exactly n events.
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const at = performance.now();
        try {
          const res = await pool.request({ path: WEBHOOK_PATH, method: 'POST', headers, body });
          await res.body.dump();
          latencies.push(performance.now() - at);
          if (res.statusCode === 202) {
            accepted += 1;
            break;
          }
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        } catch {
          networkErrors += 1;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  const elapsedS = (performance.now() - start) / 1000;
  return summarize(latencies, { due: c.n, sent: c.n, accepted, statuses, networkErrors, skipped: 0, elapsedS });
}

process.on('message', (message: GenCommand) => {
  if (message.cmd === 'stop') {
    stopRequested = true;
    return;
  }
  if (message.cmd === 'exit') {
    void Promise.all([...pools.values()].map((p) => p.close())).then(() => process.exit(0));
    return;
  }
  const run = message.cmd === 'rate' ? rate(message) : count(message);
  run.then(
    (result) => process.send!({ ok: true, result }),
    (error: unknown) => process.send!({ ok: false, error: String(error) }),
  );
});
process.send!({ ready: true });
