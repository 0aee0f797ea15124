import { rmSync } from 'node:fs';
import type { Context } from '../context.js';
import { startFastDcs } from '../fakes/fake-adobe-fast.js';
import type { GenResult } from '../load/load-gen.js';
import { distScript, monitor, relayEnv, startRelay, startServer } from '../harness/processes.js';
import { median, until } from '../harness/stats.js';
import { runWrk, type WrkResult } from '../load/wrk.js';

export interface SyncRound {
  side: 'relay' | 'sync';
  round: number;
  /** Open loop at the same fixed rate for both: the ack latency Capillary would see. */
  paced: GenResult;
  /** Closed loop (wrk): the most each can take. */
  wrk: WrkResult;
  /** Requests the fake Adobe received per 1,000 webhooks (open-loop part). */
  adobeRequestsPer1000: number;
  peakRssMb: number;
}

interface Side {
  pacedP50Ms: number;
  pacedP99Ms: number;
  rps: number;
  wrkP99Ms: number;
}

export interface SyncResult {
  adobeDelayMs: number;
  rate: number;
  connections: number;
  rounds: SyncRound[];
  relay: Side;
  sync: Side;
  /** Sync relay's ack p99 over the relay's, at the same offered rate. */
  p99Ratio: number;
  rpsRatio: number;
  relayAdobeRequestsPer1000: number;
  syncAdobeRequestsPer1000: number;
  /** Everything the relay acknowledged reached the slow Adobe. */
  relayDeliveredAll: boolean;
}

/**
 * 5. The hand-written alternative (sync-relay.ts: forward to Adobe, then answer) against the relay,
 * both in front of a fake Adobe that takes `adobeDelayMs` per request, alternating rounds: first at
 * the same offered rate (open loop, a rate both can take: ack latency), then closed loop (wrk:
 * throughput).
 */
export async function syncPhase(ctx: Context): Promise<SyncResult> {
  const p = ctx.plan.sync;
  const slow = await startFastDcs({ delayMs: p.adobeDelayMs });
  const rounds: SyncRound[] = [];
  let relayDeliveredAll = true;
  try {
    for (let round = 0; round < p.rounds; round += 1) {
      const order: Array<'relay' | 'sync'> = round % 2 === 0 ? ['sync', 'relay'] : ['relay', 'sync'];
      for (const side of order) {
        const dir = ctx.freshDir(side);
        const env = relayEnv({ dir, dcsInletUrl: slow.inletUrl, ims: ctx.ims });
        const server = side === 'relay' ? await startRelay(env) : await startServer('sync-relay', distScript('bench/ingest/sync-relay.js'), env);
        try {
          const prefix = `sync${side}${round}x${Date.now()}`;
          await ctx.gen.run({ cmd: 'rate', url: server.url, prefix: `${prefix}w`, rate: p.rate, seconds: 1, connections: 64, maxOutstanding: 5000 });
          await until(() => slow.stats().messages > 0, 5000);
          const deliveredBefore = slow.stats().messages;
          const requestsBefore = slow.stats().requests;
          const mon = monitor(server.pid);
          const paced = await ctx.gen.run({ cmd: 'rate', url: server.url, prefix: `${prefix}p`, rate: p.rate, seconds: p.seconds, connections: 64, maxOutstanding: 5000 });
          if (side === 'relay') {
            // Let the relay deliver what it acknowledged before counting Adobe's requests.
            const target = deliveredBefore + paced.accepted;
            relayDeliveredAll &&= await until(() => slow.stats().messages >= target, 30_000, 100);
          }
          const adobeRequestsPer1000 = ((slow.stats().requests - requestsBefore) / Math.max(1, paced.accepted)) * 1000;
          const wrk = await runWrk(ctx.wrk, { url: server.url, script: ctx.wrkScript, prefix, seconds: p.wrkSeconds, connections: p.connections, threads: 1 });
          const peakRssMb = mon.peakMb();
          mon.stop();
          rounds.push({ side, round, paced, wrk, adobeRequestsPer1000, peakRssMb });
          ctx.log(
            `  vs sync, round ${round + 1} ${side.padEnd(5)}: at ${p.rate}/s ack p50 ${paced.p50Ms.toFixed(2)} ms, p99 ${paced.p99Ms.toFixed(2)} ms, ` +
              `${adobeRequestsPer1000.toFixed(1)} Adobe requests per 1,000 webhooks; closed loop ${Math.round(wrk.rps)} req/s (p99 ${wrk.p99Ms.toFixed(1)} ms, errors ${wrk.errors})`,
          );
        } finally {
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await slow.close();
  }
  const side = (s: 'relay' | 'sync'): Side => {
    const rs = rounds.filter((r) => r.side === s);
    return {
      pacedP50Ms: median(rs.map((r) => r.paced.p50Ms)),
      pacedP99Ms: median(rs.map((r) => r.paced.p99Ms)),
      rps: median(rs.map((r) => r.wrk.rps)),
      wrkP99Ms: median(rs.map((r) => r.wrk.p99Ms)),
    };
  };
  const relay = side('relay');
  const sync = side('sync');
  const per1000 = (s: 'relay' | 'sync') => median(rounds.filter((r) => r.side === s).map((r) => r.adobeRequestsPer1000));
  return {
    adobeDelayMs: p.adobeDelayMs,
    rate: p.rate,
    connections: p.connections,
    rounds,
    relay,
    sync,
    p99Ratio: sync.pacedP99Ms / relay.pacedP99Ms,
    rpsRatio: relay.rps / sync.rps,
    relayAdobeRequestsPer1000: per1000('relay'),
    syncAdobeRequestsPer1000: per1000('sync'),
    relayDeliveredAll,
  };
}
