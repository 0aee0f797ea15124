import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileMarkdown } from '../profile/profile-summary.js';
import { ingestModesTable, measuredBullets, postgresMarkdown, stallMarkdown, table } from './report-sections.js';
import { memoryRows, summaryRows, type Results } from './report-targets.js';
import { relayNodeFlags } from '../../support/relay-node-flags.js';
import { ROOT } from '../../support/repo-root.js';
import { fmt } from '../harness/stats.js';

export { consoleTable, summaryRows, type Results } from './report-targets.js';

const ANALYSIS_START = '<!-- analysis:start (kept across runs: edit by hand) -->';
const ANALYSIS_END = '<!-- analysis:end -->';
export const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');

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
    `Written by \`${r.command}\` on ${r.startedAt.toISOString()} (${Math.round(r.durationS)} s). Floors and goals from the performance issue, round three (then issue 12's and issue 6's targets it does not restate, and diagnostics). ` +
      'Everything runs on this one machine: the relay, the load generators (wrk, and a Node open-loop generator), and the fake Adobe share its cores, ' +
      'so absolute numbers are lower than on a dedicated server; the two sides of each comparison run alternately under the same conditions, and the ratios are what to read.',
  );
  if (r.plan.quick) out.push('', '**Quick smoke run (`--quick`): short rounds and a small backlog; the numbers are indicative only.**');
  out.push('', '## Results', '', table(['Measure', 'Floor', 'Goal', 'Result', 'Verdict'], rows.map((x) => [x.measure, x.floor, x.goal, x.result, x.verdict])));

  out.push('', '## Machine, versions, command', '', table(['', ''], r.environment.map(([k, v]) => [k, v])));

  out.push('', '## How it is measured', '');
  out.push(
    [
      `- The relay runs as a real process (\`node ${relayNodeFlags().join(' ')} dist/src/server.js\`, what \`npm start\` runs) with its production defaults: SQLite store on a fresh file with \`STORE_SYNCHRONOUS=full\` (every acknowledged webhook is fsynced) on its own thread, ` +
        'rate limit on, `LOG_LEVEL=info`, delivery running to a fake Adobe (bench/fakes/fake-adobe-fast.ts: IMS token, then 207 with one `xactionId` per message, counting messages without parsing) over HTTP on 127.0.0.1. ' +
        'Only the ExperienceEvent dataset is configured, so one webhook is one message.',
      '- Bodies are the Capillary samples of test/fixtures/capillary (0.7–1.2 KB), in turn, each with a unique `eventId`.',
      `- 1. Ingest: wrk, ${r.plan.ingest.threads} thread, ${r.plan.ingest.connections} connections, ${r.plan.ingest.rounds} alternating rounds (ABBA) of ${r.plan.ingest.seconds} s per side after a ${r.plan.ingest.warmupSeconds} s warm-up, a fresh server (and store) per round, ` +
        `then ${r.plan.ingest.pinnedRounds} more rounds pinned with taskset: the server under test (every thread) on core 0, wrk and the bench process (the fake Adobe) on core 1; medians, with the range over rounds. ` +
        'The limit (`intake`) is bench/ingest/durable-intake.ts: the least a durable intake can do in this stack before its 202 (Fastify, read the event id, insert the raw body into SQLite with synchronous=FULL, one transaction and fsync per event-loop turn shared by every request of that turn; inline on the event loop, the cheapest design in CPU; no auth, schema, mapping or delivery). ' +
        'The least relay (`least-relay`) is bench/ingest/least-relay.ts: the limit plus the rest of the job at its cheapest (one row per webhook, mapped at delivery by the relay\'s own mapper, sent in DCS batches of 500 to the same fake Adobe, one cursor update per batch; no auth, metrics, logs, retries, console or store thread): what a relay that maps and delivers costs at least. ' +
        'The bare side is bench/ingest/bare-fastify.ts (Fastify 5 parsing the JSON and answering 202, no logging): the HTTP ceiling.' +
        (r.plan.ingest.diagnoseFsync ? ' A third side, `relay-normal`, is the relay with `STORE_SYNCHRONOUS=normal`: a diagnostic that shows what the fsync per commit costs, not a target.' : ''),
      `- 2. Sustained: bench/load/load-gen.ts in its own process, open loop (latency from each request's due time), ${r.plan.sustained.seconds} s per rate, stepping ${r.plan.sustained.rates.join(', ')}/s; a rate is kept up when ≥ 98% is acknowledged with no refusals and \`relay_queue_pending\` (read from /metrics each second) stays under half a second of traffic (at least 1,000) in the second half of the step. Stops at the first rate not kept up.`,
      `- 3. Drain: the fake Adobe stops listening (connections refused), ${fmt.int(r.plan.drain.backlog)} webhooks are queued (64 connections), then Adobe comes back; the fake records every request's size and the largest request and message counts in any sliding 1 s window. ` +
        (r.plan.drain.circuitOpenMs === undefined
          ? 'Production settings throughout: the first delivery waits for the circuit breaker\'s next probe, of one message (0.5 s after it opened, doubling after each failed probe up to `CIRCUIT_OPEN_MS`, 0.5 s by default).'
          : `Settings: ${JSON.stringify(r.drain?.settings ?? {})}.`) +
        ' A consistent copy of the backlog store (SQLite `VACUUM INTO`) is then drained by a relay with `AEP_MAX_MESSAGES_PER_SECOND`/`AEP_MAX_REQUESTS_PER_SECOND` lifted, to tell the cap from the relay.',
      '- 4. Memory: VmRSS of the relay process sampled every 200 ms and its VmHWM (reset per phase through /proc/PID/clear_refs).',
      `- 5. bench/ingest/sync-relay.ts maps each webhook with the relay's own mapper and POSTs it to Adobe before answering (keep-alive undici pool); both it and the relay face a fake Adobe answering after ${r.plan.sync.adobeDelayMs} ms. ` +
        `${r.plan.sync.rounds} alternating rounds; in each, ${r.plan.sync.seconds} s open loop at ${r.plan.sync.rate} webhooks/s (a rate both can take: the ack latency Capillary sees), then ${r.plan.sync.wrkSeconds} s of wrk with ${r.plan.sync.connections} connections (the most each can take).`,
      ...measuredBullets(r.plan),
    ].join('\n'),
  );

  if (r.ingest) {
    out.push('', '## 1. Ingest rounds', '');
    out.push(
      table(
        ['round', 'pinned', 'side', 'req/s', 'p50', 'p99', 'max', 'errors', 'RSS peak', 'CPU (cores)', 'CPU µs/webhook, ingest', 'CPU µs/webhook, end to end', 'accepted / delivered / pending after'],
        r.ingest.rounds.map((x) => [
          String(x.round + 1),
          x.pinned ? 'yes' : 'no',
          x.side,
          fmt.int(x.wrk.rps),
          fmt.ms(x.wrk.p50Ms),
          fmt.ms(x.wrk.p99Ms),
          fmt.ms(x.wrk.maxMs),
          String(x.wrk.errors),
          fmt.mb(x.peakRssMb),
          x.cpuCores.toFixed(2),
          fmt.int(x.cpuUsIngest),
          x.side === 'bare' ? '' : fmt.int(x.cpuUsEndToEnd ?? NaN),
          x.side === 'relay' ? `${fmt.int(x.accepted ?? NaN)} / ${fmt.int(x.delivered ?? NaN)} / ${fmt.int(x.pendingAfter ?? NaN)}` : x.side === 'intake' ? `${fmt.int(x.accepted ?? NaN)} stored` : '',
        ]),
      ),
    );
    out.push('', `Webhooks answered but not counted as accepted by the relay: ${r.ingest.notAccepted}; wrk errors (non-2xx, socket): ${r.ingest.errors}.`);
    const c = r.ingest.cpu;
    out.push(
      '',
      `CPU per accepted webhook, medians: relay ${fmt.int(c.relayIngestUs)} µs (end to end ${fmt.int(c.relayEndToEndUs)} µs), bare Fastify ${fmt.int(c.bareIngestUs)} µs, relay ÷ bare ${c.ratio.toFixed(2)}` +
        (c.normalIngestUs === undefined ? '.' : `; STORE_SYNCHRONOUS=normal ${fmt.int(c.normalIngestUs)} µs (end to end ${fmt.int(c.normalEndToEndUs ?? NaN)} µs).`),
    );
    out.push('', ingestModesTable(r.ingest));
  }
  if (r.postgres) out.push('', ...postgresMarkdown(r.postgres));
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
  if (r.stall) out.push('', ...stallMarkdown(r.stall));

  out.push('', '## What the profile shows', '', ANALYSIS_START, previousAnalysis() || '_No analysis written yet: see the profile data below._', ANALYSIS_END);
  if (r.profile) {
    out.push('', '### Profile data of this run', '');
    out.push(`\`node --cpu-prof\` on the relay process; files in dist/bench-profiles/ (open in Chrome DevTools). Summaries by bench/profile/profile-summary.ts.`, '');
    out.push(profileMarkdown(`Ingest (wrk ${r.plan.ingest.connections} connections, ${fmt.int(r.profile.ingest.wrk.rps)} req/s while profiled)`, r.profile.ingest.summary));
    if (r.profile.ingest.store) out.push(profileMarkdown('Ingest, the SQLite store\'s thread (same run)', r.profile.ingest.store, 15, 'store thread'));
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
