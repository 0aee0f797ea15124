import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Context } from '../context.js';
import { cpuSeconds, distScript, monitor, threadCpuSeconds, relayEnv, startRelay, startRelayBuild, startServer, type ServerProcess } from '../harness/processes.js';
import { LOAD_CPU, SERVER_CPU, pin } from '../harness/pinning.js';
import { metricSum, scrape, sleep, until } from '../harness/stats.js';
import { runWrk, type WrkResult } from '../load/wrk.js';
import { relayNodeFlags } from '../../support/relay-node-flags.js';

/**
 * `relay`: the relay as `npm start` runs it. `intake`: the durable-intake limit (durable-intake.ts).
 * `bare`: bare Fastify, the HTTP ceiling. `relay-normal`: a diagnostic, the relay with
 * STORE_SYNCHRONOUS=normal (no fsync per commit). `relay-before`: another build's relay
 * (`bench:intake --before=<its dist/src/server.js>`), to measure a change side by side.
 * `relay-held`: a diagnostic, the relay's intake alone: its route lists an org no sample carries, so
 * every webhook is authenticated, parsed, committed and answered 202 as `held`, and nothing is mapped,
 * queued or delivered. Beside `relay` and `intake` it splits the relay's CPU into intake and the rest.
 * `least-relay`: the limit plus mapping and delivery at their cheapest (least-relay.ts), the least a
 * relay that does the whole job can cost in this stack.
 */
export type IngestSide = 'relay' | 'intake' | 'bare' | 'relay-normal' | 'relay-before' | 'relay-held' | 'least-relay';

/** An org id none of the samples carries (bench/load/samples.ts): every webhook of `relay-held` is held. */
const NO_SAMPLE_ORG = '1';

const RELAYS: readonly IngestSide[] = ['relay', 'relay-normal', 'relay-before', 'relay-held'];
export const isRelaySide = (side: IngestSide) => RELAYS.includes(side);

export interface IngestRound {
  side: IngestSide;
  round: number;
  /** Server on core 0, wrk and the bench (fake Adobe) on core 1. */
  pinned: boolean;
  wrk: WrkResult;
  peakRssMb: number;
  cpuCores: number;
  /** Webhooks the server stored over the wrk run (relay: its accepted counter; limit: rows), and what reached Adobe (relay). */
  accepted?: number;
  delivered?: number;
  pendingAfter?: number;
  /** Process CPU (/proc/PID/stat, every thread) per accepted webhook over the wrk run, µs. */
  cpuUsIngest: number;
  /**
   * From the same start until everything accepted reached the fake Adobe, µs per webhook of the run
   * (relay sides). The limit's and bare Fastify's end to end is their ingest: they deliver nothing.
   */
  cpuUsEndToEnd?: number;
  /** Relay sides and the least relay: the end-to-end CPU µs per webhook by thread (threadCpuSeconds), where it goes. */
  threadsUs?: Record<string, number>;
}

export interface RoundOptions {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  threads: number;
  /** The other build's server.js, for the `relay-before` side. */
  beforeScript?: string;
  /** Node flags of the `relay-before` side instead of this build's (an experiment with flags). */
  beforeFlags?: string[];
}

const readIntake = <T>(path: string, sql: string): T => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
};
const countRows = (path: string) => readIntake<{ n: number }>(path, 'SELECT count(*) AS n FROM events').n;
/** The least relay's events not yet delivered: past its cursor. */
const undelivered = (path: string) => readIntake<{ n: number }>(path, 'SELECT count(*) AS n FROM events WHERE rowid > (SELECT upto FROM delivered)').n;

async function startSide(ctx: Context, side: IngestSide, dir: string, o: RoundOptions): Promise<ServerProcess> {
  if (side === 'bare') return startServer('bare-fastify', distScript('bench/ingest/bare-fastify.js'), { PORT: '0' });
  if (side === 'intake') return startServer('durable-intake', distScript('bench/ingest/durable-intake.js'), { PORT: '0', STORE_PATH: join(dir, 'intake.db') });
  if (side === 'least-relay') {
    const env = relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims });
    return startServer('least-relay', distScript('bench/ingest/least-relay.js'), { ...env, PORT: '0', STORE_PATH: join(dir, 'intake.db') });
  }
  const extra: Record<string, string> = side === 'relay-normal' ? { STORE_SYNCHRONOUS: 'normal' } : side === 'relay-held' ? { CAPILLARY_ORG_IDS: NO_SAMPLE_ORG } : {};
  const env = relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra });
  if (side === 'relay-before') {
    if (!o.beforeScript) throw new Error('bench: the relay-before side needs --before=<dist/src/server.js of the other build>');
    // Same Node flags as this build's relay: the comparison is of the code, not of the flags.
    return startRelayBuild(o.beforeScript, env, o.beforeFlags ?? relayNodeFlags());
  }
  return startRelay(env);
}

/** CPU µs per webhook by thread since `atStart` (threadCpuSeconds), threads under 0.5 µs left out. */
function threadsPerWebhook(pid: number, atStart: Map<string, number>, webhooks: number): Record<string, number> {
  return Object.fromEntries(
    [...threadCpuSeconds(pid)].map(([name, s]) => [name, ((s - (atStart.get(name) ?? 0)) / webhooks) * 1e6] as const).filter(([, us]) => us >= 0.5),
  );
}
const threadsText = (row: IngestRound) => Object.entries(row.threadsUs ?? {}).map(([t, us]) => `${t} ${us.toFixed(0)}`).join(', ');

/** One round of one side: a fresh server (and store), a warm-up, then wrk for `seconds`. */
export async function measureRound(ctx: Context, side: IngestSide, round: number, pinned: boolean, o: RoundOptions, runId: string): Promise<IngestRound> {
  const dir = ctx.freshDir(side);
  const server = await startSide(ctx, side, dir, o);
  const isRelay = isRelaySide(side);
  if (pinned) pin(server.pid, String(SERVER_CPU));
  const load = (seconds: number, tag: string) =>
    runWrk(ctx.wrk, { url: server.url, script: ctx.wrkScript, prefix: `ingest${runId}${tag}`, seconds, connections: o.connections, threads: o.threads, ...(pinned ? { cpu: LOAD_CPU } : {}) });
  const storesRows = side === 'intake' || side === 'least-relay';
  const accepted = async () => (isRelay ? metricSum(await scrape(server.opsUrl), 'relay_webhooks_received_total', 'outcome="accepted"') : storesRows ? countRows(join(dir, 'intake.db')) : 0);
  try {
    const deliveredAtStart = ctx.dcs.stats().messages;
    await load(o.warmupSeconds, 'w');
    const before = await accepted();
    const deliveredBefore = ctx.dcs.stats().messages;
    const mon = monitor(server.pid);
    const cpuAtStart = cpuSeconds(server.pid);
    const threadsAtStart = threadCpuSeconds(server.pid);
    const wrk = await load(o.seconds, 'm');
    const cpuIngest = cpuSeconds(server.pid) - cpuAtStart;
    const row: IngestRound = { side, round, pinned, wrk, peakRssMb: mon.peakMb(), cpuCores: mon.cpuCores(), cpuUsIngest: NaN };
    mon.stop();
    if (isRelay) {
      await sleep(300);
      const text = await scrape(server.opsUrl);
      const acceptedInAll = metricSum(text, 'relay_webhooks_received_total', 'outcome="accepted"');
      row.accepted = acceptedInAll - before;
      row.delivered = ctx.dcs.stats().messages - deliveredBefore;
      row.pendingAfter = metricSum(text, 'relay_queue_pending');
      row.cpuUsIngest = (cpuIngest / row.accepted) * 1e6;
      // End to end: the same start, until every webhook this relay accepted (warm-up included) and
      // did not hold has reached the fake Adobe (one message each), and its settle has had a moment to commit.
      // A held webhook is never delivered (relay-held holds them all): only the others are waited for.
      const toDeliver = acceptedInAll - metricSum(text, 'relay_events_held_total');
      const allDelivered = await until(() => ctx.dcs.stats().messages - deliveredAtStart >= toDeliver, 60_000, 20);
      if (toDeliver > 0) await sleep(100);
      if (allDelivered) {
        row.cpuUsEndToEnd = ((cpuSeconds(server.pid) - cpuAtStart) / row.accepted) * 1e6;
        row.threadsUs = threadsPerWebhook(server.pid, threadsAtStart, row.accepted);
      }
    } else if (side === 'intake') {
      row.accepted = (await accepted()) - before;
      row.cpuUsIngest = (cpuIngest / row.accepted) * 1e6;
      row.cpuUsEndToEnd = row.cpuUsIngest;
    } else if (side === 'least-relay') {
      row.accepted = (await accepted()) - before;
      row.cpuUsIngest = (cpuIngest / row.accepted) * 1e6;
      // End to end as the relay's: from the same start until its cursor has passed every event.
      if (await until(() => undelivered(join(dir, 'intake.db')) === 0, 60_000, 20)) {
        row.cpuUsEndToEnd = ((cpuSeconds(server.pid) - cpuAtStart) / row.accepted) * 1e6;
        row.threadsUs = threadsPerWebhook(server.pid, threadsAtStart, row.accepted);
      }
      row.delivered = ctx.dcs.stats().messages - deliveredBefore;
    } else {
      row.cpuUsIngest = (cpuIngest / Math.max(1, wrk.requests - wrk.errors)) * 1e6;
    }
    ctx.log(
      `  ingest round ${round + 1}${pinned ? ' pinned' : ''} ${side.padEnd(12)}: ${Math.round(wrk.rps)} req/s, p50 ${wrk.p50Ms.toFixed(2)} ms, p99 ${wrk.p99Ms.toFixed(2)} ms, ` +
        `errors ${wrk.errors}, RSS ${row.peakRssMb.toFixed(0)} MB, CPU ${(row.cpuCores * 100).toFixed(0)}%, ${row.cpuUsIngest.toFixed(0)} µs/webhook` +
        (isRelay ? ` (${row.cpuUsEndToEnd?.toFixed(0) ?? 'n/a'} end to end: ${threadsText(row)}), accepted ${row.accepted}, delivered ${row.delivered}` : row.accepted !== undefined ? `, stored ${row.accepted}${row.delivered !== undefined ? `, delivered ${row.delivered}, ${row.cpuUsEndToEnd?.toFixed(0) ?? 'n/a'} µs end to end (${threadsText(row)})` : ''}` : ''),
    );
    return row;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
