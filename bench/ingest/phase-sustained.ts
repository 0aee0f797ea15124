import { rmSync } from 'node:fs';
import type { Context } from '../context.js';
import type { GenResult } from '../load/load-gen.js';
import { monitor, relayEnv, startRelay } from '../harness/processes.js';
import { queuePending, sleep, until } from '../harness/stats.js';

export interface SustainedStep {
  rate: number;
  gen: GenResult;
  /** Accepted webhooks per second over the step. */
  acceptedPerS: number;
  /** Messages that reached the fake Adobe per second over the step. */
  deliveredPerS: number;
  /** relay_queue_pending read from /metrics once a second during the step. */
  pendingSamples: number[];
  /** Largest pending in the second half of the step, and the bound it must stay under. */
  pendingMax2ndHalf: number;
  pendingBound: number;
  peakRssMb: number;
  cpuCores: number;
  keptUp: boolean;
  why: string;
}

export interface SustainedResult {
  steps: SustainedStep[];
  /** Highest rate at which the relay acknowledged everything and delivery kept up. */
  highestKeptUp: number;
  peakRssMb: number;
}

export const ACK_P99_LIMIT_MS = 1000;

/**
 * 2. Sustained end to end: open-loop load at fixed rates, stepping up, on one relay; a step passes
 * when every webhook was acknowledged (202) with an ack p99 under 1 s (else webhooks pile up in front
 * of the relay) and the queue stayed flat: its depth in the second half of the step stays under half
 * a second of traffic (at least two full batches).
 */
export async function sustainedPhase(ctx: Context): Promise<SustainedResult> {
  const p = ctx.plan.sustained;
  const dir = ctx.freshDir('sustained');
  const relay = await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims }));
  const steps: SustainedStep[] = [];
  let totalAccepted = 0;
  const deliveredBase = ctx.dcs.stats().messages;
  try {
    // Warm the relay and the generator's connections.
    const warm = await ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `warm${Date.now()}`, rate: 500, seconds: 2, connections: 64, maxOutstanding: 5000 });
    totalAccepted += warm.accepted;
    await until(() => ctx.dcs.stats().messages - deliveredBase >= totalAccepted, 10_000);

    for (const rate of p.rates) {
      const delivered0 = ctx.dcs.stats().messages;
      const pendingSamples: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await sleep(1000);
          const pending = await queuePending(relay.opsUrl);
          if (sampling && pending !== undefined) pendingSamples.push(pending);
        }
      })();
      const mon = monitor(relay.pid);
      const gen = await ctx.gen.run({ cmd: 'rate', url: relay.url, prefix: `sus${rate}x${Date.now()}`, rate, seconds: p.seconds, connections: 64, maxOutstanding: 5000 });
      sampling = false;
      await sampler;
      const peakRssMb = mon.peakMb();
      const cpuCores = mon.cpuCores();
      mon.stop();
      totalAccepted += gen.accepted;
      const deliveredPerS = (ctx.dcs.stats().messages - delivered0) / gen.elapsedS;
      const acceptedPerS = gen.accepted / gen.elapsedS;
      const secondHalf = pendingSamples.slice(Math.floor(pendingSamples.length / 2));
      const pendingMax2ndHalf = secondHalf.length ? Math.max(...secondHalf) : NaN;
      const pendingBound = Math.max(1000, rate / 2);
      const failures = Object.values(gen.statuses).reduce((a, b) => a + b, 0) + gen.networkErrors + gen.skipped;
      const reasons: string[] = [];
      if (gen.accepted < 0.98 * gen.due) reasons.push(`only ${gen.accepted} of ${gen.due} acknowledged`);
      if (failures > 0) reasons.push(`${failures} refused/failed/skipped (${JSON.stringify(gen.statuses)}, ${gen.networkErrors} network, ${gen.skipped} skipped)`);
      // Acks slower than this mean webhooks are queueing in front of the relay (in Capillary's sender).
      if (gen.p99Ms > ACK_P99_LIMIT_MS) reasons.push(`ack p99 ${Math.round(gen.p99Ms)} ms > ${ACK_P99_LIMIT_MS} ms`);
      if (!(pendingMax2ndHalf <= pendingBound)) reasons.push(`queue grew to ${pendingMax2ndHalf} (bound ${pendingBound})`);
      if (deliveredPerS < 0.95 * acceptedPerS) reasons.push(`delivered ${Math.round(deliveredPerS)}/s < accepted ${Math.round(acceptedPerS)}/s`);
      const step: SustainedStep = {
        rate,
        gen,
        acceptedPerS,
        deliveredPerS,
        pendingSamples,
        pendingMax2ndHalf,
        pendingBound,
        peakRssMb,
        cpuCores,
        keptUp: reasons.length === 0,
        why: reasons.join('; '),
      };
      steps.push(step);
      ctx.log(
        `  sustained ${rate}/s: accepted ${Math.round(acceptedPerS)}/s, delivered ${Math.round(deliveredPerS)}/s, ack p50 ${gen.p50Ms.toFixed(1)} ms p99 ${gen.p99Ms.toFixed(1)} ms, ` +
          `pending [${pendingSamples.join(',')}], RSS ${peakRssMb.toFixed(0)} MB, CPU ${(cpuCores * 100).toFixed(0)}% -> ${step.keptUp ? 'kept up' : `NOT kept up: ${step.why}`}`,
      );
      // Let the queue empty so each step starts flat.
      const drained = await until(() => ctx.dcs.stats().messages - deliveredBase >= totalAccepted, 30_000, 200);
      if (!step.keptUp || !drained) break;
    }
  } finally {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const kept = steps.filter((s) => s.keptUp).map((s) => s.rate);
  return { steps, highestKeptUp: kept.length ? Math.max(...kept) : 0, peakRssMb: Math.max(0, ...steps.map((s) => s.peakRssMb)) };
}
