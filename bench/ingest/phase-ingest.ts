import type { Context } from '../context.js';
import { canPin, withLoadSidePinned } from '../harness/pinning.js';
import { median } from '../harness/stats.js';
import { isRelaySide, measureRound, type IngestRound, type IngestSide, type RoundOptions } from './ingest-round.js';

export type { IngestRound, IngestSide } from './ingest-round.js';

export interface SideSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rpsRange: [number, number];
  p99Range: [number, number];
  /** Medians over the rounds of CPU µs per accepted webhook: over the wrk run, and until all was delivered. */
  cpuIngestUs: number;
  cpuEndToEndUs: number;
}

/** One mode's rounds (pinned or not) side by side: the relay against the limit and bare Fastify. */
export interface ModeSummary {
  pinned: boolean;
  sides: Partial<Record<IngestSide, SideSummary>>;
  /** Relay ÷ durable-intake limit: webhooks/s (higher is better), CPU µs per webhook end to end (lower is better). */
  relayOverLimitRps: number;
  relayOverLimitCpu: number;
  relayOverBareRps: number;
  limitOverBareRps: number;
}

export interface CpuPerWebhook {
  relayIngestUs: number;
  relayEndToEndUs: number;
  bareIngestUs: number;
  limitUs: number;
  normalIngestUs: number | undefined;
  normalEndToEndUs: number | undefined;
  /** Relay ÷ bare Fastify, ingest only. */
  ratio: number;
}

type Side = { rps: number; p50Ms: number; p99Ms: number; rpsRange: [number, number]; p99Range: [number, number] };

export interface IngestResult {
  rounds: IngestRound[];
  /** The unpinned rounds, as in earlier runs. */
  relay: Side;
  bare: Side;
  limit: Side;
  normal: Side | undefined;
  rpsRatio: number;
  p99Ratio: number;
  unpinned: ModeSummary;
  /** Absent where taskset or a second core is missing. */
  pinned: ModeSummary | undefined;
  peakRssMb: number;
  errors: number;
  /** Answered requests the relay did not count as accepted (duplicates or refusals): must be 0. */
  notAccepted: number;
  cpu: CpuPerWebhook;
}

export interface RoundsPlan extends RoundOptions {
  sides: IngestSide[];
  rounds: number;
  pinnedRounds: number;
}

/**
 * Runs `rounds` unpinned then `pinnedRounds` pinned rounds of every side, alternating (ABBA: every
 * other round in reverse order) so drift on a noisy machine hits every side alike.
 */
export async function runIngestRounds(ctx: Context, plan: RoundsPlan): Promise<IngestRound[]> {
  const rounds: IngestRound[] = [];
  let runId = 0;
  const runMode = async (count: number, pinned: boolean) => {
    for (let round = 0; round < count; round += 1) {
      const order = round % 2 === 0 ? plan.sides : [...plan.sides].reverse();
      for (const side of order) rounds.push(await measureRound(ctx, side, round, pinned, plan, `${Date.now()}x${(runId += 1)}`));
    }
  };
  await runMode(plan.rounds, false);
  if (plan.pinnedRounds > 0) {
    if (canPin()) await withLoadSidePinned(() => runMode(plan.pinnedRounds, true));
    else ctx.log('  pinned rounds skipped: taskset or a second core is missing');
  }
  return rounds;
}

function sideOf(rounds: IngestRound[], side: IngestSide, pinned: boolean): SideSummary | undefined {
  const rs = rounds.filter((r) => r.side === side && r.pinned === pinned);
  if (rs.length === 0) return undefined;
  const rps = rs.map((r) => r.wrk.rps);
  const p99 = rs.map((r) => r.wrk.p99Ms);
  const cpu = (key: 'cpuUsIngest' | 'cpuUsEndToEnd') => median(rs.map((r) => r[key] ?? NaN).filter(Number.isFinite));
  return {
    rps: median(rps),
    p50Ms: median(rs.map((r) => r.wrk.p50Ms)),
    p99Ms: median(p99),
    rpsRange: [Math.min(...rps), Math.max(...rps)],
    p99Range: [Math.min(...p99), Math.max(...p99)],
    cpuIngestUs: cpu('cpuUsIngest'),
    cpuEndToEndUs: side === 'bare' ? cpu('cpuUsIngest') : cpu('cpuUsEndToEnd'),
  };
}

export function summarize(rounds: IngestRound[], pinned: boolean): ModeSummary | undefined {
  const sides: Partial<Record<IngestSide, SideSummary>> = {};
  for (const side of new Set(rounds.filter((r) => r.pinned === pinned).map((r) => r.side))) sides[side] = sideOf(rounds, side, pinned)!;
  if (Object.keys(sides).length === 0) return undefined;
  const { relay, intake, bare } = sides;
  return {
    pinned,
    sides,
    relayOverLimitRps: (relay?.rps ?? NaN) / (intake?.rps ?? NaN),
    relayOverLimitCpu: (relay?.cpuEndToEndUs ?? NaN) / (intake?.cpuEndToEndUs ?? NaN),
    relayOverBareRps: (relay?.rps ?? NaN) / (bare?.rps ?? NaN),
    limitOverBareRps: (intake?.rps ?? NaN) / (bare?.rps ?? NaN),
  };
}

const EMPTY: Side = { rps: NaN, p50Ms: NaN, p99Ms: NaN, rpsRange: [NaN, NaN], p99Range: [NaN, NaN] };

/**
 * 1. Ingest: the relay (real process, fresh store, delivering to the fake Adobe as in production)
 * against the durable-intake limit (the least a relay that commits before its 202 can do in this
 * stack), the least relay (the limit plus mapping and delivery at their cheapest: what a relay that
 * does the whole job costs at least) and bare Fastify answering 202 (the HTTP ceiling). Unpinned rounds, then rounds with each
 * server pinned to one core and wrk to the other. Besides req/s, each side's CPU time
 * (/proc/PID/stat, every thread) per accepted webhook: steadier than req/s on a shared machine.
 */
export async function ingestPhase(ctx: Context): Promise<IngestResult> {
  const p = ctx.plan.ingest;
  const sides: IngestSide[] = ['relay', 'intake', 'least-relay', 'bare', ...(p.diagnoseFsync ? (['relay-normal'] as const) : [])];
  const rounds = await runIngestRounds(ctx, { ...p, sides });
  const unpinned = summarize(rounds, false)!;
  const pinned = summarize(rounds, true);
  const plain = (s: SideSummary | undefined): Side => (s ? { rps: s.rps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, rpsRange: s.rpsRange, p99Range: s.p99Range } : EMPTY);
  const relay = plain(unpinned.sides.relay);
  const bare = plain(unpinned.sides.bare);
  const relayRounds = rounds.filter((r) => isRelaySide(r.side));
  const u = unpinned.sides;
  return {
    rounds,
    relay,
    bare,
    limit: plain(u.intake),
    normal: u['relay-normal'] ? plain(u['relay-normal']) : undefined,
    rpsRatio: relay.rps / bare.rps,
    p99Ratio: relay.p99Ms / bare.p99Ms,
    unpinned,
    pinned,
    cpu: {
      relayIngestUs: u.relay?.cpuIngestUs ?? NaN,
      relayEndToEndUs: u.relay?.cpuEndToEndUs ?? NaN,
      bareIngestUs: u.bare?.cpuIngestUs ?? NaN,
      limitUs: u.intake?.cpuIngestUs ?? NaN,
      normalIngestUs: u['relay-normal']?.cpuIngestUs,
      normalEndToEndUs: u['relay-normal']?.cpuEndToEndUs,
      ratio: (u.relay?.cpuIngestUs ?? NaN) / (u.bare?.cpuIngestUs ?? NaN),
    },
    peakRssMb: Math.max(...relayRounds.map((r) => r.peakRssMb)),
    errors: rounds.reduce((n, r) => n + r.wrk.errors, 0),
    // wrk counts answered requests; the relay and the limit must have stored each (unique ids) exactly once.
    notAccepted: rounds.filter((r) => r.accepted !== undefined).reduce((n, r) => n + Math.max(0, r.wrk.requests - (r.accepted ?? 0)), 0),
  };
}
