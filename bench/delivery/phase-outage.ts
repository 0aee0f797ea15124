import { rmSync } from 'node:fs';
import type { Context } from '../context.js';
import type { GenResult } from '../load/load-gen.js';
import { awaitDrain, type DrainRun } from './phase-drain.js';
import { relayEnv, startRelay } from '../harness/processes.js';
import { sleep } from '../harness/stats.js';

export interface OutageResult {
  /** How long the inlet answered 503, ms (at least the plan's; longer if the load outlasted it). */
  outageMs: number;
  /** Webhooks sent at a steady rate, before and during the outage. */
  load: GenResult;
  drain: DrainRun;
}

/**
 * 3b. Drain after a 503 outage (issue 12): the inlet is up but answers 503 to everything while
 * webhooks keep coming, so the relay's requests fail (and its messages back off)
 * instead of being refused a connection, which phase 3's outage leaves untested. Then Adobe answers
 * again: the time to the first delivery, and the rate at which the whole backlog drains under the
 * default caps (AEP_MAX_MESSAGES_PER_SECOND, 10,000 msg/s).
 */
export async function outagePhase(ctx: Context): Promise<OutageResult> {
  const p = ctx.plan.outage;
  const dir = ctx.freshDir('outage503');
  // The fake Adobe is shared by the phases: count only what this phase's relay delivers.
  ctx.dcs.reset();
  const relay = await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims }));
  try {
    await sleep(1000);
    // Webhooks flow and are delivered; then the inlet fails for p.seconds while they keep coming.
    ctx.log(`  outage: ${p.rate} webhooks/s for ${p.healthySeconds + p.seconds} s; the inlet answers 503 after ${p.healthySeconds} s`);
    let failingSince = 0;
    const failing = setTimeout(() => {
      ctx.dcs.failWith(503);
      failingSince = Date.now();
    }, p.healthySeconds * 1000);
    const seconds = p.healthySeconds + p.seconds;
    const load = await ctx.gen
      .run({ cmd: 'rate', url: relay.url, prefix: `outage${Date.now()}`, rate: p.rate, seconds, connections: 32, maxOutstanding: 1000 })
      .finally(() => clearTimeout(failing));
    const deliveredBefore = ctx.dcs.stats().messages;
    ctx.dcs.reset();
    const restoredAt = Date.now();
    ctx.dcs.failWith(undefined);
    const outageMs = restoredAt - failingSince;
    const backlog = load.accepted - deliveredBefore;
    ctx.log(
      `  outage: ${load.accepted} of ${load.due} accepted (${JSON.stringify(load.statuses)}, ${load.networkErrors} network errors, ${load.skipped} skipped, ack p99 ${load.p99Ms.toFixed(0)} ms), ` +
        `${deliveredBefore} delivered before ${outageMs} ms of 503s; ${backlog} held`,
    );
    const drain = await awaitDrain(ctx, 'after a 503 outage', backlog, restoredAt, relay.pid, 120_000, relay.opsUrl);
    return { outageMs, load, drain };
  } finally {
    ctx.dcs.failWith(undefined);
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
