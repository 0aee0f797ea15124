import type { Plan } from '../context.js';
import type { DrainResult } from '../delivery/phase-drain.js';
import type { IngestResult } from '../ingest/phase-ingest.js';
import type { OutageResult } from '../delivery/phase-outage.js';
import type { PostgresResult } from '../postgres/phase-postgres.js';
import type { ProfileResult } from '../profile/phase-profile.js';
import type { StallResult, StallRun } from '../stall/phase-stall.js';
import type { SustainedResult } from '../ingest/phase-sustained.js';
import type { SyncResult } from '../ingest/phase-sync.js';
import { fmt } from '../harness/stats.js';

export interface Results {
  plan: Plan;
  command: string;
  startedAt: Date;
  durationS: number;
  environment: Array<[string, string]>;
  ingest?: IngestResult;
  postgres?: PostgresResult;
  sustained?: SustainedResult;
  drain?: DrainResult;
  outage?: OutageResult;
  sync?: SyncResult;
  stall?: StallResult;
  profile?: ProfileResult;
}

export interface Row {
  measure: string;
  floor: string;
  goal: string;
  result: string;
  verdict: string;
}

/** Adobe's cap is met within 2% (the limiter's window against Adobe's, network jitter). */
const AT_CAP = 10_000 * 0.98;

/** "goal met", "floor met" or "MISSED (floor x)" for a value against issue 12's floor and goal. */
function judge(value: number, floor: number, goal: number, better: 'higher' | 'lower', floorText: string): string {
  if (!Number.isFinite(value)) return 'not measured';
  const meets = (t: number) => (better === 'higher' ? value >= t : value <= t);
  return meets(goal) ? 'goal met' : meets(floor) ? 'floor met' : `MISSED (floor ${floorText})`;
}

const NONE = '—';
const ratio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

function stallRow(run: StallRun, rate: number): Row {
  const w = run.webhooks;
  const what =
    run.job === 'replay' ? `a ${fmt.int(run.size)}-event replay (background job)` : run.job === 'replay-sync' ? `a synchronous ${fmt.int(run.size)}-event replay` : `a ${fmt.int(run.size)}-row prune`;
  return {
    measure: `Webhook p99 at ${rate}/s while ${what} runs`,
    floor: '50 ms',
    goal: '20 ms',
    result:
      `p99 ${fmt.ms(w.p99Ms)} (p50 ${fmt.ms(w.p50Ms)}, max ${fmt.ms(w.maxMs)}, ${fmt.int(w.accepted)}/${fmt.int(w.due)} accepted); ` +
      `job ${(run.jobMs / 1000).toFixed(1)} s, ${Object.entries(run.processed).map(([k, v]) => `${fmt.int(v)} ${k}`).join(', ')}${run.complete ? '' : ' (NOT complete)'}`,
    // A job that did not finish, or webhooks refused while it ran, miss the target whatever the p99.
    verdict: run.complete && w.accepted === w.due ? judge(w.p99Ms, 50, 20, 'lower', '50 ms') : 'MISSED (floor 50 ms)',
  };
}

/** The Results table: issue 12's targets in its order, then the earlier targets and diagnostics. */
export function summaryRows(r: Results): Row[] {
  const rows: Row[] = [];
  const { ingest, drain, sync, outage, stall, postgres } = r;
  if (ingest) rows.push(...limitRows(ingest));
  if (sync) {
    rows.push({
      measure: `Ack p99 at ${sync.rate}/s, Adobe ${sync.adobeDelayMs} ms, sync relay ÷ relay`,
      floor: '10',
      goal: '20',
      result:
        `${ratio(sync.p99Ratio)}: ${fmt.ms(sync.sync.pacedP99Ms)} vs ${fmt.ms(sync.relay.pacedP99Ms)} (p50 ${fmt.ms(sync.sync.pacedP50Ms)} vs ${fmt.ms(sync.relay.pacedP50Ms)}); ` +
        `closed loop (${sync.connections} connections) ${fmt.int(sync.relay.rps)} vs ${fmt.int(sync.sync.rps)} req/s; Adobe requests per 1,000 webhooks ${sync.relayAdobeRequestsPer1000.toFixed(0)} vs ${sync.syncAdobeRequestsPer1000.toFixed(0)}`,
      verdict: judge(sync.p99Ratio, 10, 20, 'higher', '10'),
    });
  }
  if (stall) rows.push(...(stall.syncReplay ? [stallRow(stall.syncReplay, stall.rate)] : []), stallRow(stall.replay, stall.rate), stallRow(stall.prune, stall.rate));
  const peaks = memoryRows(r);
  if (peaks.length > 0) {
    const peak = peaks.reduce((a, b) => (b.peak > a.peak ? b : a));
    rows.push({ measure: 'RSS peak of the relay, any phase', floor: '140 MB', goal: '120 MB', result: `${fmt.mb(peak.peak)} (${peak.phase})`, verdict: judge(peak.peak, 140, 120, 'lower', '140 MB') });
  }
  if (drain || outage) {
    const firsts = [...(drain ? [['connections refused', drain.capped.toFirstMs] as const] : []), ...(outage ? [['503s', outage.drain.toFirstMs] as const] : [])];
    const worst = Math.max(...firsts.map(([, ms]) => ms));
    rows.push({
      measure: 'First delivery after Adobe returns',
      floor: '3 s',
      goal: '1 s',
      result: firsts.map(([why, ms]) => `${fmt.int(ms)} ms after an outage of ${why}`).join('; '),
      verdict: judge(worst, 3000, 1000, 'lower', '3 s'),
    });
  }
  if (outage) {
    const d = outage.drain;
    rows.push({
      measure: `Drain after ${(outage.outageMs / 1000).toFixed(1)} s of 503s, msg/s (${fmt.int(d.messages)}-message backlog)`,
      floor: '10,000 (the cap)',
      goal: 'the cap',
      result: `${fmt.int(d.rate99)} msg/s first→99% (${fmt.int(d.rate)} first→last), all in ${(d.totalMs / 1000).toFixed(1)} s`,
      verdict: judge(d.rate99, AT_CAP, AT_CAP, 'higher', '10,000'),
    });
  }
  if (drain) {
    const c = drain.capped;
    const u = drain.uncapped;
    const limitedBy = u && u.rate > c.rate * 1.15 ? 'the 10,000 msg/s cap' : 'the relay itself';
    rows.push({
      measure: `Drain of a ${fmt.int(drain.backlog)}-event backlog, capped at Adobe's 10,000 msg/s`,
      floor: '10,000',
      goal: '10,000 (the cap)',
      result: `${fmt.int(c.rate99)} msg/s first→99% (${fmt.int(c.rate)} first→last), all in ${(c.totalMs / 1000).toFixed(1)} s` + (u ? `; caps lifted ${fmt.int(u.rate)} msg/s: limited by ${limitedBy}` : ''),
      verdict: judge(c.rate99, AT_CAP, AT_CAP, 'higher', '10,000'),
    });
  }
  if (postgres) {
    rows.push(
      postgres.skipped !== undefined
        ? { measure: 'PostgreSQL, one replica, webhooks/s ÷ SQLite', floor: '0.7', goal: '1.0', result: `skipped: ${postgres.skipped}`, verdict: 'not measured' }
        : {
            measure: 'PostgreSQL, one replica, webhooks/s ÷ SQLite',
            floor: '0.7',
            goal: '1.0',
            result: `${ratio(postgres.rpsRatio)}: ${fmt.int(postgres.postgres.rps)} vs ${fmt.int(postgres.sqlite.rps)} webhooks/s (p99 ${fmt.ms(postgres.postgres.p99Ms)} vs ${fmt.ms(postgres.sqlite.p99Ms)})`,
            verdict: judge(postgres.rpsRatio, 0.7, 1, 'higher', '0.7'),
          },
    );
  }
  rows.push(...otherRows(r));
  return rows;
}

/**
 * Round three's ruler: the relay against the durable-intake limit (bench/ingest/durable-intake.ts),
 * pinned rounds for the verdict (each server on one core), the unpinned ones beside them.
 */
function limitRows(ingest: IngestResult): Row[] {
  const main = ingest.pinned ?? ingest.unpinned;
  const where = ingest.pinned ? 'pinned' : 'unpinned (no pinned rounds)';
  const us = (m: typeof main, side: 'relay' | 'intake') => fmt.int(m.sides[side]?.cpuEndToEndUs ?? NaN);
  const rps = (m: typeof main, side: 'relay' | 'intake') => fmt.int(m.sides[side]?.rps ?? NaN);
  return [
    {
      measure: 'CPU µs per webhook, relay ÷ durable-intake limit, end to end',
      floor: '3',
      goal: '2',
      result:
        `${ratio(main.relayOverLimitCpu)} ${where}: ${us(main, 'relay')} vs ${us(main, 'intake')} µs` +
        (ingest.pinned ? `; unpinned ${ratio(ingest.unpinned.relayOverLimitCpu)}: ${us(ingest.unpinned, 'relay')} vs ${us(ingest.unpinned, 'intake')} µs` : ''),
      verdict: judge(main.relayOverLimitCpu, 3, 2, 'lower', '3'),
    },
    {
      measure: 'Webhooks/s, relay ÷ durable-intake limit, each pinned to one core',
      floor: '0.4',
      goal: '0.5',
      result:
        `${ratio(main.relayOverLimitRps)} ${where}: ${rps(main, 'relay')} vs ${rps(main, 'intake')}/s` +
        (ingest.pinned ? `; unpinned ${ratio(ingest.unpinned.relayOverLimitRps)}: ${rps(ingest.unpinned, 'relay')} vs ${rps(ingest.unpinned, 'intake')}/s` : ''),
      verdict: ingest.pinned ? judge(main.relayOverLimitRps, 0.4, 0.5, 'higher', '0.4') : 'not measured (no pinned rounds)',
    },
  ];
}

/**
 * The least relay (bench/ingest/least-relay.ts) splits the relay ÷ limit ratio in two: what mapping
 * and delivering cost at least (least relay ÷ limit), and what the relay's design costs over that
 * (relay ÷ least relay). No floor: it says where the CPU floor's room goes.
 */
function leastRelayRow(ingest: IngestResult): Row | undefined {
  const main = ingest.pinned ?? ingest.unpinned;
  const least = main.sides['least-relay'];
  const { relay, intake } = main.sides;
  if (!least || !relay || !intake) return undefined;
  return {
    measure: 'Diagnostic: the least relay (the limit plus mapping and delivery at their cheapest), CPU µs per webhook end to end',
    floor: NONE,
    goal: NONE,
    result:
      `${ingest.pinned ? 'pinned' : 'unpinned'}: least relay ${fmt.int(least.cpuEndToEndUs)} µs = ${ratio(least.cpuEndToEndUs / intake.cpuEndToEndUs)} of the limit (${fmt.int(intake.cpuEndToEndUs)}); ` +
      `the relay ${fmt.int(relay.cpuEndToEndUs)} µs = ${ratio(relay.cpuEndToEndUs / least.cpuEndToEndUs)} of the least relay`,
    verdict: '',
  };
}

/** Issue 6's targets not restated by issue 12, and the diagnostics (no floor, no goal). */
function otherRows(r: Results): Row[] {
  const rows: Row[] = [];
  const { ingest, sustained, drain } = r;
  if (ingest) {
    rows.push({
      measure: 'Ingest, relay ÷ bare Fastify req/s, durable commits (issue 12; bare Fastify is the HTTP ceiling)',
      floor: '0.6',
      goal: '0.8',
      result: `${ratio(ingest.rpsRatio)}: ${fmt.int(ingest.relay.rps)} vs ${fmt.int(ingest.bare.rps)} req/s unpinned (relay ${fmt.int(ingest.relay.rpsRange[0])}–${fmt.int(ingest.relay.rpsRange[1])}, bare ${fmt.int(ingest.bare.rpsRange[0])}–${fmt.int(ingest.bare.rpsRange[1])})` +
        (ingest.pinned ? `; pinned ${ratio(ingest.pinned.relayOverBareRps)}, the limit itself ${ratio(ingest.pinned.limitOverBareRps)} of bare pinned` : ''),
      verdict: judge(ingest.rpsRatio, 0.6, 0.8, 'higher', '0.6'),
    });
    rows.push({
      measure: 'Ingest p99, relay ÷ bare (issue 12)',
      floor: '3',
      goal: '2',
      result: `${ratio(ingest.p99Ratio)}: ${fmt.ms(ingest.relay.p99Ms)} vs ${fmt.ms(ingest.bare.p99Ms)} (p50 ${fmt.ms(ingest.relay.p50Ms)} vs ${fmt.ms(ingest.bare.p50Ms)})`,
      verdict: judge(ingest.p99Ratio, 3, 2, 'lower', '3'),
    });
    const leastRow = leastRelayRow(ingest);
    if (leastRow) rows.push(leastRow);
    const c = ingest.cpu;
    rows.push({
      measure: 'CPU per accepted webhook (process CPU ÷ webhooks, all threads)',
      floor: NONE,
      goal: NONE,
      result:
        `unpinned: relay ${fmt.int(c.relayIngestUs)} µs ingest only, ${fmt.int(c.relayEndToEndUs)} µs end to end (delivery included); durable-intake limit ${fmt.int(c.limitUs)} µs; bare Fastify ${fmt.int(c.bareIngestUs)} µs; relay ÷ bare ${ratio(c.ratio)}` +
        (c.normalIngestUs === undefined ? '' : `; STORE_SYNCHRONOUS=normal ${fmt.int(c.normalIngestUs)} µs ingest, ${fmt.int(c.normalEndToEndUs ?? NaN)} µs end to end`),
      verdict: '',
    });
    if (ingest.normal) {
      rows.push({
        measure: 'Diagnostic: ingest with STORE_SYNCHRONOUS=normal (no fsync per commit)',
        floor: NONE,
        goal: NONE,
        result: `${fmt.int(ingest.normal.rps)} req/s = ${ratio(ingest.normal.rps / ingest.bare.rps)} of bare, p99 ${fmt.ms(ingest.normal.p99Ms)} (${fmt.x(ingest.normal.p99Ms / ingest.bare.p99Ms)} bare)`,
        verdict: '',
      });
    }
  }
  if (sustained) {
    const top = sustained.steps.find((s) => s.rate === sustained.highestKeptUp);
    const failed = sustained.steps.find((s) => !s.keptUp);
    rows.push({
      measure: 'Sustained end to end, queue flat (issue 6)',
      floor: '5,000 events/s',
      goal: '5,000 events/s',
      result:
        `${fmt.int(sustained.highestKeptUp)} events/s` +
        (top ? ` (ack p99 ${fmt.ms(top.gen.p99Ms)})` : '') +
        (failed ? `; ${fmt.int(failed.rate)}/s not kept up: ${failed.why}` : '; highest rate tried'),
      verdict: judge(sustained.highestKeptUp, 5000, 5000, 'higher', '5,000'),
    });
  }
  if (drain) {
    const c = drain.capped;
    const ok = c.dcs.maxRequestsPerSecond <= 1000 && c.dcs.maxRequestBytes <= 1_000_000 && c.dcs.overLimit === 0;
    rows.push({
      measure: "Adobe's limits during the drain (issue 6)",
      floor: '≤ 1,000 req/s, ≤ 1 MB/request',
      goal: 'the same',
      result: `max ${fmt.int(c.dcs.maxRequestsPerSecond)} req/s and ${fmt.int(c.dcs.maxMessagesPerSecond)} msg/s in any 1 s window; largest request ${fmt.int(c.dcs.maxRequestBytes)} B`,
      verdict: ok ? 'goal met' : 'MISSED (floor ≤ 1,000 req/s, ≤ 1 MB)',
    });
    const rss = Math.max(drain.rssBacklogMb, drain.loadPeakRssMb, drain.capped.peakRssMb);
    rows.push({
      measure: `RSS with the ${fmt.int(drain.backlog)}-event backlog queued (issue 6: flat, the backlog on disk)`,
      floor: '150 MB',
      goal: '120 MB',
      result: `${fmt.mb(drain.rssBacklogMb)} at rest with ${fmt.int(drain.pendingAtRest ?? NaN)} pending (fresh relay ${fmt.mb(drain.rssFreshMb)}); ${fmt.mb(drain.loadPeakRssMb)} peak while queueing, ${fmt.mb(drain.capped.peakRssMb)} draining`,
      verdict: judge(rss, 150, 120, 'lower', '150 MB'),
    });
  }
  return rows;
}

export function memoryRows(r: Results): Array<{ phase: string; peak: number; note: string }> {
  const rows: Array<{ phase: string; peak: number; note: string }> = [];
  if (r.ingest) rows.push({ phase: '1. ingest (wrk, max over rounds)', peak: r.ingest.peakRssMb, note: '' });
  if (r.sustained) rows.push({ phase: '2. sustained (max over steps)', peak: r.sustained.peakRssMb, note: '' });
  if (r.drain) {
    const heap = (h: typeof r.drain.heapFresh) => (h ? `V8 heap ${h.usedMb.toFixed(0)} MB used of ${h.totalMb.toFixed(0)} MB, external ${h.externalMb.toFixed(0)} MB` : '');
    rows.push({ phase: '3. queueing the backlog (Adobe down)', peak: r.drain.loadPeakRssMb, note: `fresh relay at rest ${fmt.mb(r.drain.rssFreshMb)}; ${heap(r.drain.heapFresh)}` });
    rows.push({ phase: '3. backlog at rest', peak: r.drain.rssBacklogMb, note: `${fmt.int(r.drain.pendingAtRest ?? NaN)} messages pending; ${heap(r.drain.heapBacklog)}` });
    const heapPeak = (h: typeof r.drain.heapFresh) => (h ? `V8 heap at most ${h.usedMb.toFixed(0)} MB used of ${h.totalMb.toFixed(0)} MB, external ${h.externalMb.toFixed(0)} MB` : '');
    rows.push({ phase: '3. draining (caps on)', peak: r.drain.capped.peakRssMb, note: heapPeak(r.drain.capped.heapPeak) });
    if (r.drain.uncapped) rows.push({ phase: '3. draining (caps lifted)', peak: r.drain.uncapped.peakRssMb, note: heapPeak(r.drain.uncapped.heapPeak) });
  }
  if (r.outage) rows.push({ phase: '3b. 503 outage and its drain', peak: r.outage.drain.peakRssMb, note: 'while draining' });
  if (r.sync) rows.push({ phase: '5. relay vs sync relay (Adobe 100 ms)', peak: Math.max(...r.sync.rounds.filter((x) => x.side === 'relay').map((x) => x.peakRssMb)), note: `sync relay: ${fmt.mb(Math.max(...r.sync.rounds.filter((x) => x.side === 'sync').map((x) => x.peakRssMb)))}` });
  if (r.stall) {
    if (r.stall.syncReplay) rows.push({ phase: '6. during the synchronous replay', peak: r.stall.syncReplay.peakRssMb, note: `${fmt.int(r.stall.syncReplay.size)} events` });
    rows.push({ phase: '6. during the replay', peak: r.stall.replay.peakRssMb, note: `${fmt.int(r.stall.replay.size)} events` });
    rows.push({ phase: '6. during the prune', peak: r.stall.prune.peakRssMb, note: `${fmt.int(r.stall.prune.size)} delivered messages` });
  }
  return rows;
}

export function consoleTable(rows: Row[]): string {
  const cols: Array<keyof Row> = ['measure', 'floor', 'goal', 'result', 'verdict'];
  const width = cols.map((c) => Math.min(90, Math.max(c.length, ...rows.map((r) => r[c].length))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join(' | ');
  return [line(cols.map(String)), width.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(cols.map((c) => r[c])))].join('\n');
}
