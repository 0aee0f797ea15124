import { rmSync } from 'node:fs';
import type { Context } from '../context.js';
import { cpuSeconds, distScript, monitor, relayEnv, startRelay, startServer, type ServerProcess } from '../harness/processes.js';
import { acceptedSoFar, median, metricSum, scrape, sleep, until } from '../harness/stats.js';
import { runWrk, type WrkResult } from '../load/wrk.js';

/** `relay-normal`: a diagnostic, the relay with STORE_SYNCHRONOUS=normal (no fsync per commit). */
export type IngestSide = 'relay' | 'bare' | 'relay-normal';

export interface IngestRound {
  side: IngestSide;
  round: number;
  wrk: WrkResult;
  peakRssMb: number;
  cpuCores: number;
  /** Relay only: events it counted as accepted (must equal wrk's requests), and what reached Adobe. */
  accepted?: number;
  delivered?: number;
  pendingAfter?: number;
  /** Process CPU (all threads) per accepted webhook over the wrk run, µs. */
  cpuUsIngest: number;
  /** Relay only: from the same start until everything accepted reached the fake Adobe, µs per webhook of the run. */
  cpuUsEndToEnd?: number;
}

export interface CpuPerWebhook {
  relayIngestUs: number;
  relayEndToEndUs: number;
  bareIngestUs: number;
  normalIngestUs: number | undefined;
  normalEndToEndUs: number | undefined;
  /** Relay ÷ bare Fastify, ingest only. */
  ratio: number;
}

export interface IngestResult {
  rounds: IngestRound[];
  relay: { rps: number; p50Ms: number; p99Ms: number; rpsRange: [number, number]; p99Range: [number, number] };
  bare: { rps: number; p50Ms: number; p99Ms: number; rpsRange: [number, number]; p99Range: [number, number] };
  normal: { rps: number; p50Ms: number; p99Ms: number; rpsRange: [number, number]; p99Range: [number, number] } | undefined;
  rpsRatio: number;
  p99Ratio: number;
  peakRssMb: number;
  errors: number;
  /** Answered requests the relay did not count as accepted (duplicates or refusals): must be 0. */
  notAccepted: number;
  cpu: CpuPerWebhook;
}

/**
 * 1. Ingest: the relay (real process, fresh store, delivering to the fake Adobe as in production)
 * against bare Fastify answering 202, alternating ABBA so drift on a noisy machine hits both sides.
 * Besides req/s, each side's CPU time (/proc/PID/stat, every thread) per accepted webhook: steadier
 * than req/s on a shared machine, since another session's load slows both but costs neither CPU.
 */
export async function ingestPhase(ctx: Context): Promise<IngestResult> {
  const p = ctx.plan.ingest;
  const rounds: IngestRound[] = [];
  let runId = 0;
  const load = (server: ServerProcess, seconds: number) =>
    runWrk(ctx.wrk, { url: server.url, script: ctx.wrkScript, prefix: `ingest${Date.now()}x${(runId += 1)}`, seconds, connections: p.connections, threads: p.threads });

  const measure = async (side: IngestSide, round: number) => {
    const dir = ctx.freshDir(side);
    const isRelay = side !== 'bare';
    const extra: Record<string, string> = side === 'relay-normal' ? { STORE_SYNCHRONOUS: 'normal' } : {};
    const server = isRelay
      ? await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra }))
      : await startServer('bare-fastify', distScript('bench/ingest/bare-fastify.js'), { PORT: '0' });
    try {
      const deliveredAtStart = ctx.dcs.stats().messages;
      await load(server, p.warmupSeconds);
      const before = isRelay ? await acceptedSoFar(server.opsUrl) : 0;
      const deliveredBefore = ctx.dcs.stats().messages;
      const mon = monitor(server.pid);
      const cpuAtStart = cpuSeconds(server.pid);
      const wrk = await load(server, p.seconds);
      const cpuIngest = cpuSeconds(server.pid) - cpuAtStart;
      const row: IngestRound = { side, round, wrk, peakRssMb: mon.peakMb(), cpuCores: mon.cpuCores(), cpuUsIngest: NaN };
      mon.stop();
      if (isRelay) {
        await sleep(300);
        const text = await scrape(server.opsUrl);
        const acceptedInAll = metricSum(text, 'relay_webhooks_received_total', 'outcome="accepted"');
        row.accepted = acceptedInAll - before;
        row.delivered = ctx.dcs.stats().messages - deliveredBefore;
        row.pendingAfter = metricSum(text, 'relay_queue_pending');
        row.cpuUsIngest = (cpuIngest / row.accepted) * 1e6;
        // End to end: the same start, until every webhook this relay accepted (warm-up included) has
        // reached the fake Adobe (one message each), and its settle has had a moment to commit.
        const allDelivered = await until(() => ctx.dcs.stats().messages - deliveredAtStart >= acceptedInAll, 60_000, 20);
        await sleep(100);
        if (allDelivered) row.cpuUsEndToEnd = ((cpuSeconds(server.pid) - cpuAtStart) / row.accepted) * 1e6;
      } else {
        row.cpuUsIngest = (cpuIngest / Math.max(1, wrk.requests - wrk.errors)) * 1e6;
      }
      rounds.push(row);
      ctx.log(
        `  ingest round ${round + 1} ${side.padEnd(12)}: ${Math.round(wrk.rps)} req/s, p50 ${wrk.p50Ms.toFixed(2)} ms, p99 ${wrk.p99Ms.toFixed(2)} ms, ` +
          `errors ${wrk.errors}, RSS ${row.peakRssMb.toFixed(0)} MB, CPU ${(row.cpuCores * 100).toFixed(0)}%, ${row.cpuUsIngest.toFixed(0)} µs/webhook` +
          (isRelay ? ` (${row.cpuUsEndToEnd?.toFixed(0) ?? 'n/a'} end to end), accepted ${row.accepted}, delivered ${row.delivered}` : ''),
      );
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const sides: IngestSide[] = p.diagnoseFsync ? ['relay', 'bare', 'relay-normal'] : ['relay', 'bare'];
  for (let round = 0; round < p.rounds; round += 1) {
    // ABBA: every other round runs the sides in reverse order.
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) await measure(side, round);
  }

  const side = (s: IngestSide) => {
    const rs = rounds.filter((r) => r.side === s);
    const rps = rs.map((r) => r.wrk.rps);
    const p99 = rs.map((r) => r.wrk.p99Ms);
    return {
      rps: median(rps),
      p50Ms: median(rs.map((r) => r.wrk.p50Ms)),
      p99Ms: median(p99),
      rpsRange: [Math.min(...rps), Math.max(...rps)] as [number, number],
      p99Range: [Math.min(...p99), Math.max(...p99)] as [number, number],
    };
  };
  const relay = side('relay');
  const bare = side('bare');
  const normal = p.diagnoseFsync ? side('relay-normal') : undefined;
  const relayRounds = rounds.filter((r) => r.side !== 'bare');
  const cpuOf = (s: IngestSide, key: 'cpuUsIngest' | 'cpuUsEndToEnd') => median(rounds.filter((r) => r.side === s).map((r) => r[key] ?? NaN).filter(Number.isFinite));
  const cpu: CpuPerWebhook = {
    relayIngestUs: cpuOf('relay', 'cpuUsIngest'),
    relayEndToEndUs: cpuOf('relay', 'cpuUsEndToEnd'),
    bareIngestUs: cpuOf('bare', 'cpuUsIngest'),
    normalIngestUs: normal ? cpuOf('relay-normal', 'cpuUsIngest') : undefined,
    normalEndToEndUs: normal ? cpuOf('relay-normal', 'cpuUsEndToEnd') : undefined,
    ratio: cpuOf('relay', 'cpuUsIngest') / cpuOf('bare', 'cpuUsIngest'),
  };
  return {
    cpu,
    rounds,
    relay,
    bare,
    normal,
    rpsRatio: relay.rps / bare.rps,
    p99Ratio: relay.p99Ms / bare.p99Ms,
    peakRssMb: Math.max(...relayRounds.map((r) => r.peakRssMb)),
    errors: rounds.reduce((n, r) => n + r.wrk.errors, 0),
    // wrk counts answered requests; the relay must have accepted each (unique ids) exactly once.
    notAccepted: relayRounds.reduce((n, r) => n + Math.max(0, r.wrk.requests - (r.accepted ?? 0)), 0),
  };
}
