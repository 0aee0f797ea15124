import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from './context.js';
import type { DrainResult } from './phase-drain.js';
import type { IngestResult } from './phase-ingest.js';
import type { OutageResult } from './phase-outage.js';
import type { ProfileResult } from './phase-profile.js';
import type { SustainedResult } from './phase-sustained.js';
import type { SyncResult } from './phase-sync.js';
import { profileMarkdown } from './profile-summary.js';
import { ROOT } from './samples.js';
import { fmt } from './stats.js';

export interface Results {
  plan: Plan;
  command: string;
  startedAt: Date;
  durationS: number;
  environment: Array<[string, string]>;
  ingest?: IngestResult;
  sustained?: SustainedResult;
  drain?: DrainResult;
  outage?: OutageResult;
  sync?: SyncResult;
  profile?: ProfileResult;
}

interface Row {
  measure: string;
  target: string;
  result: string;
  verdict: string;
}

const ANALYSIS_START = '<!-- analysis:start (kept across runs: edit by hand) -->';
const ANALYSIS_END = '<!-- analysis:end -->';
export const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');

/** "met" or "missed by N%" for a measured value against a target (higher or lower is better). */
function verdict(value: number, target: number, better: 'higher' | 'lower'): string {
  if (!Number.isFinite(value)) return 'not measured';
  const ok = better === 'higher' ? value >= target : value <= target;
  if (ok) return 'met';
  const by = better === 'higher' ? 1 - value / target : value / target - 1;
  return `MISSED by ${(by * 100).toFixed(0)}%`;
}

export function summaryRows(r: Results): Row[] {
  const rows: Row[] = [];
  const { ingest, sustained, drain, sync } = r;
  if (ingest) {
    rows.push({
      measure: 'Ingest throughput, relay vs bare Fastify',
      target: '≥ 80% of bare',
      result: `${fmt.int(ingest.relay.rps)} vs ${fmt.int(ingest.bare.rps)} req/s = ${fmt.pct(ingest.rpsRatio)} (relay ${fmt.int(ingest.relay.rpsRange[0])}–${fmt.int(ingest.relay.rpsRange[1])}, bare ${fmt.int(ingest.bare.rpsRange[0])}–${fmt.int(ingest.bare.rpsRange[1])})`,
      verdict: verdict(ingest.rpsRatio, 0.8, 'higher'),
    });
    rows.push({
      measure: 'Ingest p99 latency, relay vs bare Fastify',
      target: '≤ 2× bare',
      result: `${fmt.ms(ingest.relay.p99Ms)} vs ${fmt.ms(ingest.bare.p99Ms)} = ${fmt.x(ingest.p99Ratio)} (p50 ${fmt.ms(ingest.relay.p50Ms)} vs ${fmt.ms(ingest.bare.p50Ms)})`,
      verdict: verdict(ingest.p99Ratio, 2, 'lower'),
    });
    if (ingest.normal) {
      rows.push({
        measure: 'Diagnostic: ingest with STORE_SYNCHRONOUS=normal (no fsync per commit)',
        target: '(not a target)',
        result: `${fmt.int(ingest.normal.rps)} req/s = ${fmt.pct(ingest.normal.rps / ingest.bare.rps)} of bare, p99 ${fmt.ms(ingest.normal.p99Ms)} (${fmt.x(ingest.normal.p99Ms / ingest.bare.p99Ms)} bare)`,
        verdict: '',
      });
    }
  }
  if (sustained) {
    const top = sustained.steps.find((s) => s.rate === sustained.highestKeptUp);
    const failed = sustained.steps.find((s) => !s.keptUp);
    rows.push({
      measure: 'Sustained end to end (queue flat)',
      target: '≥ 5,000 events/s',
      result:
        `${fmt.int(sustained.highestKeptUp)} events/s` +
        (top ? ` (ack p99 ${fmt.ms(top.gen.p99Ms)})` : '') +
        (failed ? `; ${fmt.int(failed.rate)}/s not kept up: ${failed.why}` : `; highest rate tried`),
      verdict: verdict(sustained.highestKeptUp, 5000, 'higher'),
    });
  }
  if (drain) {
    const c = drain.capped;
    const u = drain.uncapped;
    const limitedBy = u && u.rate > c.rate * 1.15 ? 'the 10,000 msg/s cap' : 'the relay itself';
    rows.push({
      measure: `Drain of a ${fmt.int(drain.backlog)}-event backlog after an outage`,
      target: '≥ 10,000 msg/s',
      result:
        `${fmt.int(c.rate)} msg/s (${fmt.int(c.rate99)} to 99%); first delivery ${fmt.int(c.toFirstMs)} ms after Adobe came back, all in ${(c.totalMs / 1000).toFixed(1)} s` +
        (u ? `; with the relay's caps lifted ${fmt.int(u.rate)} msg/s: limited by ${limitedBy}` : ''),
      verdict: verdict(c.rate99, 10_000 * 0.98, 'higher') === 'met' ? 'met' : verdict(c.rate99, 10_000, 'higher'),
    });
    const okLimits = c.dcs.maxRequestsPerSecond <= 1000 && c.dcs.maxRequestBytes <= 1_000_000 && c.dcs.overLimit === 0;
    rows.push({
      measure: "Adobe's limits during the drain",
      target: '≤ 1,000 req/s, ≤ 1 MB/request (≤ 10,000 msg/s)',
      result: `max ${fmt.int(c.dcs.maxRequestsPerSecond)} req/s and ${fmt.int(c.dcs.maxMessagesPerSecond)} msg/s in any 1 s window; largest request ${fmt.int(c.dcs.maxRequestBytes)} B`,
      verdict: okLimits ? (c.dcs.maxMessagesPerSecond > 10_000 ? `met (msg/s over 10,000 by ${fmt.pct(c.dcs.maxMessagesPerSecond / 10_000 - 1)})` : 'met') : 'MISSED',
    });
  }
  if (r.outage) {
    const d = r.outage.drain;
    rows.push({
      measure: `Recovery after ${(r.outage.outageMs / 1000).toFixed(1)} s of 503s (${fmt.int(d.messages)}-message backlog)`,
      target: 'first delivery ≤ 3 s after Adobe is back; drain at the cap (10,000 msg/s)',
      result: `first delivery ${fmt.int(d.toFirstMs)} ms after; ${fmt.int(d.rate)} msg/s first→last (${fmt.int(d.rate99)} to 99%), all in ${(d.totalMs / 1000).toFixed(1)} s`,
      verdict: d.toFirstMs <= 3000 && d.rate99 >= 10_000 * 0.98 ? 'met' : 'MISSED',
    });
  }
  const peaks = memoryRows(r).map((m) => m.peak);
  if (peaks.length > 0) {
    const peak = Math.max(...peaks);
    rows.push({ measure: 'Peak RSS of the relay, any phase', target: '≤ 150 MB', result: fmt.mb(peak), verdict: verdict(peak, 150, 'lower') });
  }
  if (drain) {
    rows.push({
      measure: `RSS with the ${fmt.int(drain.backlog)}-event backlog queued`,
      target: 'flat (≤ 150 MB, backlog on disk)',
      result: `${fmt.mb(drain.rssBacklogMb)} at rest with ${fmt.int(drain.pendingAtRest ?? NaN)} pending (fresh relay ${fmt.mb(drain.rssFreshMb)}); ${fmt.mb(drain.loadPeakRssMb)} peak while queueing, ${fmt.mb(drain.capped.peakRssMb)} draining`,
      verdict: verdict(Math.max(drain.rssBacklogMb, drain.loadPeakRssMb, drain.capped.peakRssMb), 150, 'lower'),
    });
  }
  if (sync) {
    rows.push({
      measure: `Ack p99 vs a synchronous relay (Adobe ${sync.adobeDelayMs} ms)`,
      target: '≥ 20× lower',
      result:
        `at ${fmt.int(sync.rate)} webhooks/s: p99 ${fmt.ms(sync.relay.pacedP99Ms)} vs ${fmt.ms(sync.sync.pacedP99Ms)} = ${fmt.x(sync.p99Ratio)} lower (p50 ${fmt.ms(sync.relay.pacedP50Ms)} vs ${fmt.ms(sync.sync.pacedP50Ms)}); ` +
        `closed loop (${sync.connections} connections) ${fmt.int(sync.relay.rps)} vs ${fmt.int(sync.sync.rps)} req/s (${fmt.x(sync.rpsRatio)}), p99 ${fmt.ms(sync.relay.wrkP99Ms)} vs ${fmt.ms(sync.sync.wrkP99Ms)}; ` +
        `Adobe requests per 1,000 webhooks ${sync.relayAdobeRequestsPer1000.toFixed(0)} vs ${sync.syncAdobeRequestsPer1000.toFixed(0)}`,
      verdict: verdict(sync.p99Ratio, 20, 'higher'),
    });
  }
  return rows;
}

function memoryRows(r: Results): Array<{ phase: string; peak: number; note: string }> {
  const rows: Array<{ phase: string; peak: number; note: string }> = [];
  if (r.ingest) rows.push({ phase: '1. ingest (wrk, max over rounds)', peak: r.ingest.peakRssMb, note: '' });
  if (r.sustained) rows.push({ phase: '2. sustained (max over steps)', peak: r.sustained.peakRssMb, note: '' });
  if (r.drain) {
    rows.push({ phase: '3. queueing the backlog (Adobe down)', peak: r.drain.loadPeakRssMb, note: `fresh relay at rest ${fmt.mb(r.drain.rssFreshMb)}` });
    const heap = (h: typeof r.drain.heapFresh) => (h ? `V8 heap ${h.usedMb.toFixed(0)} MB used of ${h.totalMb.toFixed(0)} MB, external ${h.externalMb.toFixed(0)} MB` : '');
    rows[rows.length - 1]!.note += `; ${heap(r.drain.heapFresh)}`;
    rows.push({ phase: '3. backlog at rest', peak: r.drain.rssBacklogMb, note: `${fmt.int(r.drain.pendingAtRest ?? NaN)} messages pending; ${heap(r.drain.heapBacklog)}` });
    const heapPeak = (h: typeof r.drain.heapFresh) => (h ? `V8 heap at most ${h.usedMb.toFixed(0)} MB used of ${h.totalMb.toFixed(0)} MB, external ${h.externalMb.toFixed(0)} MB` : '');
    rows.push({ phase: '3. draining (caps on)', peak: r.drain.capped.peakRssMb, note: heapPeak(r.drain.capped.heapPeak) });
    if (r.drain.uncapped) rows.push({ phase: '3. draining (caps lifted)', peak: r.drain.uncapped.peakRssMb, note: heapPeak(r.drain.uncapped.heapPeak) });
  }
  if (r.sync) rows.push({ phase: '5. relay vs sync relay (Adobe 100 ms)', peak: Math.max(...r.sync.rounds.filter((x) => x.side === 'relay').map((x) => x.peakRssMb)), note: `sync relay: ${fmt.mb(Math.max(...r.sync.rounds.filter((x) => x.side === 'sync').map((x) => x.peakRssMb)))}` });
  return rows;
}

export function consoleTable(rows: Row[]): string {
  const cols: Array<keyof Row> = ['measure', 'target', 'result', 'verdict'];
  const width = cols.map((c) => Math.min(90, Math.max(c.length, ...rows.map((r) => r[c].length))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join(' | ');
  return [line(cols.map(String)), width.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(cols.map((c) => r[c])))].join('\n');
}

const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function previousAnalysis(): string {
  if (!existsSync(BENCHMARKS_FILE)) return '';
  const text = readFileSync(BENCHMARKS_FILE, 'utf8');
  const a = text.indexOf(ANALYSIS_START);
  const b = text.indexOf(ANALYSIS_END);
  return a !== -1 && b > a ? text.slice(a + ANALYSIS_START.length, b).trim() : '';
}

export function markdown(r: Results): string {
  const rows = summaryRows(r);
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    `Written by \`${r.command}\` on ${r.startedAt.toISOString()} (${Math.round(r.durationS)} s). Targets from issue 6. ` +
      'Everything runs on this one machine: the relay, the load generators (wrk, and a Node open-loop generator), and the fake Adobe share its cores, ' +
      'so absolute numbers are lower than on a dedicated server; the two sides of each comparison run alternately under the same conditions, and the ratios are what to read.',
  );
  if (r.plan.quick) out.push('', '**Quick smoke run (`--quick`): short rounds and a small backlog; the numbers are indicative only.**');
  out.push('', '## Results', '', table(['Measure', 'Target', 'Result', 'Verdict'], rows.map((x) => [x.measure, x.target, x.result, x.verdict])));

  out.push('', '## Machine, versions, command', '', table(['', ''], r.environment.map(([k, v]) => [k, v])));

  out.push('', '## How it is measured', '');
  out.push(
    [
      '- The relay runs as a real process (`node dist/src/server.js`) with its production defaults: SQLite store on a fresh file with `STORE_SYNCHRONOUS=full` (every acknowledged webhook is fsynced), ' +
        'rate limit on, `LOG_LEVEL=info`, delivery running to a fake Adobe (bench/fake-adobe-fast.ts: IMS token, then 207 with one `xactionId` per message, counting messages without parsing) over HTTP on 127.0.0.1. ' +
        'Only the ExperienceEvent dataset is configured, so one webhook is one message.',
      '- Bodies are the Capillary samples of test/fixtures/capillary (0.7–1.2 KB), in turn, each with a unique `eventId`.',
      `- 1. Ingest: wrk, ${r.plan.ingest.threads} thread, ${r.plan.ingest.connections} connections, ${r.plan.ingest.rounds} alternating rounds (ABBA) of ${r.plan.ingest.seconds} s per side after a ${r.plan.ingest.warmupSeconds} s warm-up, a fresh relay (and store) per round; medians, with the range over rounds. The bare side is bench/bare-fastify.ts (Fastify 5 parsing the JSON and answering 202, no logging).` +
        (r.plan.ingest.diagnoseFsync ? ' A third side, `relay-normal`, is the relay with `STORE_SYNCHRONOUS=normal`: a diagnostic that shows what the fsync per commit costs, not a target.' : ''),
      `- 2. Sustained: bench/load-gen.ts in its own process, open loop (latency from each request's due time), ${r.plan.sustained.seconds} s per rate, stepping ${r.plan.sustained.rates.join(', ')}/s; a rate is kept up when ≥ 98% is acknowledged with no refusals and \`relay_queue_pending\` (read from /metrics each second) stays under half a second of traffic (at least 1,000) in the second half of the step. Stops at the first rate not kept up.`,
      `- 3. Drain: the fake Adobe stops listening (connections refused), ${fmt.int(r.plan.drain.backlog)} webhooks are queued (64 connections), then Adobe comes back; the fake records every request's size and the largest request and message counts in any sliding 1 s window. ` +
        (r.plan.drain.circuitOpenMs === undefined
          ? 'Production settings throughout: the first delivery waits for the circuit breaker\'s next probe (2 s after it opened, doubling after each failed probe up to `CIRCUIT_OPEN_MS`).'
          : `Settings: ${JSON.stringify(r.drain?.settings ?? {})}.`) +
        ' A consistent copy of the backlog store (SQLite `VACUUM INTO`) is then drained by a relay with `AEP_MAX_MESSAGES_PER_SECOND`/`AEP_MAX_REQUESTS_PER_SECOND` lifted, to tell the cap from the relay.',
      '- 4. Memory: VmRSS of the relay process sampled every 200 ms and its VmHWM (reset per phase through /proc/PID/clear_refs).',
      `- 5. bench/sync-relay.ts maps each webhook with the relay's own mapper and POSTs it to Adobe before answering (keep-alive undici pool); both it and the relay face a fake Adobe answering after ${r.plan.sync.adobeDelayMs} ms. ` +
        `${r.plan.sync.rounds} alternating rounds; in each, ${r.plan.sync.seconds} s open loop at ${r.plan.sync.rate} webhooks/s (a rate both can take: the ack latency Capillary sees), then ${r.plan.sync.wrkSeconds} s of wrk with ${r.plan.sync.connections} connections (the most each can take).`,
    ].join('\n'),
  );

  if (r.ingest) {
    out.push('', '## 1. Ingest rounds', '');
    out.push(
      table(
        ['round', 'side', 'req/s', 'p50', 'p99', 'max', 'errors', 'RSS peak', 'CPU (cores)', 'accepted / delivered / pending after'],
        r.ingest.rounds.map((x) => [
          String(x.round + 1),
          x.side,
          fmt.int(x.wrk.rps),
          fmt.ms(x.wrk.p50Ms),
          fmt.ms(x.wrk.p99Ms),
          fmt.ms(x.wrk.maxMs),
          String(x.wrk.errors),
          fmt.mb(x.peakRssMb),
          x.cpuCores.toFixed(2),
          x.side === 'relay' ? `${fmt.int(x.accepted ?? NaN)} / ${fmt.int(x.delivered ?? NaN)} / ${fmt.int(x.pendingAfter ?? NaN)}` : '',
        ]),
      ),
    );
    out.push('', `Webhooks answered but not counted as accepted by the relay: ${r.ingest.notAccepted}; wrk errors (non-2xx, socket): ${r.ingest.errors}.`);
  }
  if (r.sustained) {
    out.push('', '## 2. Sustained steps', '');
    out.push(
      table(
        ['offered/s', 'accepted/s', 'delivered/s', 'ack p50', 'ack p99', 'pending each second', 'RSS peak', 'CPU (cores)', 'kept up'],
        r.sustained.steps.map((s) => [
          fmt.int(s.rate),
          fmt.int(s.acceptedPerS),
          fmt.int(s.deliveredPerS),
          fmt.ms(s.gen.p50Ms),
          fmt.ms(s.gen.p99Ms),
          s.pendingSamples.join(', '),
          fmt.mb(s.peakRssMb),
          s.cpuCores.toFixed(2),
          s.keptUp ? 'yes' : `no: ${s.why}`,
        ]),
      ),
    );
  }
  if (r.drain) {
    const d = r.drain;
    out.push('', '## 3. Drain', '');
    out.push(
      `Queueing ${fmt.int(d.backlog)} webhooks with Adobe down: ${fmt.int(d.load.accepted)} accepted in ${d.load.elapsedS.toFixed(1)} s (${fmt.int(d.load.accepted / d.load.elapsedS)}/s, ack p50 ${fmt.ms(d.load.p50Ms)}, p99 ${fmt.ms(d.load.p99Ms)}).`,
      '',
    );
    out.push(
      table(
        ['run', 'messages', 'first delivery after', 'msg/s first→last', 'msg/s first→99%', 'total', 'max req/s (1 s window)', 'max msg/s (1 s window)', 'largest request', 'requests', 'RSS peak', 'CPU (cores)'],
        [d.capped, ...(d.uncapped ? [d.uncapped] : [])].map((x) => [
          x.label,
          fmt.int(x.messages),
          `${fmt.int(x.toFirstMs)} ms`,
          fmt.int(x.rate),
          fmt.int(x.rate99),
          `${(x.totalMs / 1000).toFixed(1)} s`,
          fmt.int(x.dcs.maxRequestsPerSecond),
          fmt.int(x.dcs.maxMessagesPerSecond),
          `${fmt.int(x.dcs.maxRequestBytes)} B`,
          fmt.int(x.dcs.requests),
          fmt.mb(x.peakRssMb),
          x.cpuCores.toFixed(2),
        ]),
      ),
    );
  }
  const mem = memoryRows(r);
  if (mem.length > 0) {
    out.push('', '## 4. Memory (RSS of the relay process)', '');
    out.push(table(['phase', 'RSS (peak, or at rest)', 'note'], mem.map((m) => [m.phase, fmt.mb(m.peak), m.note])));
  }
  if (r.sync) {
    out.push('', `## 5. Relay vs a synchronous relay, Adobe answering in ${r.sync.adobeDelayMs} ms`, '');
    out.push(
      table(
        ['round', 'side', `ack p50 at ${r.sync.rate}/s`, `ack p99 at ${r.sync.rate}/s`, 'max', 'refused', 'Adobe requests per 1,000 webhooks', 'closed loop req/s', 'closed loop p99', 'errors'],
        r.sync.rounds.map((x) => [
          String(x.round + 1),
          x.side,
          fmt.ms(x.paced.p50Ms),
          fmt.ms(x.paced.p99Ms),
          fmt.ms(x.paced.maxMs),
          String(x.paced.due - x.paced.accepted),
          x.adobeRequestsPer1000.toFixed(1),
          fmt.int(x.wrk.rps),
          fmt.ms(x.wrk.p99Ms),
          String(x.wrk.errors),
        ]),
      ),
    );
    out.push('', `Everything the relay acknowledged reached the slow Adobe: ${r.sync.relayDeliveredAll ? 'yes' : 'NO'}.`);
  }

  out.push('', '## What the profile shows', '', ANALYSIS_START, previousAnalysis() || '_No analysis written yet: see the profile data below._', ANALYSIS_END);
  if (r.profile) {
    out.push('', '### Profile data of this run', '');
    out.push(`\`node --cpu-prof\` on the relay process; files in dist/bench-profiles/ (open in Chrome DevTools). Summaries by bench/profile-summary.ts.`, '');
    out.push(profileMarkdown(`Ingest (wrk ${r.plan.ingest.connections} connections, ${fmt.int(r.profile.ingest.wrk.rps)} req/s while profiled)`, r.profile.ingest.summary));
    out.push(profileMarkdown(`Ingest with STORE_SYNCHRONOUS=normal (diagnostic; ${fmt.int(r.profile.ingestNormal.wrk.rps)} req/s while profiled)`, r.profile.ingestNormal.summary));
    if (r.profile.drain) {
      out.push(profileMarkdown(`Drain (${fmt.int(r.profile.drain.messages)} messages in ${r.profile.drain.seconds.toFixed(1)} s while profiled, production caps)`, r.profile.drain.summary));
    }
  }
  return out.join('\n') + '\n';
}

export function writeBenchmarks(r: Results): void {
  writeFileSync(BENCHMARKS_FILE, markdown(r));
}
