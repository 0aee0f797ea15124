import type { Plan } from '../context.js';
import type { IngestResult, ModeSummary } from '../ingest/phase-ingest.js';
import type { PostgresResult } from '../postgres/phase-postgres.js';
import type { StallResult } from '../stall/phase-stall.js';
import type { StallDiagnosis } from '../stall/stall-diagnosis.js';
import { fmt } from '../harness/stats.js';

export const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** "How it is measured" for CPU per webhook and phases 1b and 6. */
export function measuredBullets(plan: Plan): string[] {
  const s = plan.stall;
  const pg = plan.postgres;
  return [
    '- CPU per accepted webhook: utime + stime of the process (/proc/PID/stat, every thread) over the wrk run ÷ the webhooks it accepted (bare Fastify: ÷ its 2xx answers); "ingest only" is that window, with delivery running alongside as in production. ' +
      "End to end: from the same start until every webhook the relay accepted has reached the fake Adobe, ÷ the same count (the delivery's claims, requests and settles included). Less sensitive than req/s to other work on the machine, which slows the relay without costing it CPU.",
    `- 6. Stalls: webhooks at ${s.rate}/s open loop (bench/load/load-gen.ts, latency from each one's due time) from the start of a long store job until it is seen done, on a relay of its own. ` +
      `(a0) Synchronous replay: a store with ${fmt.int(s.syncReplayStore)} unmapped events, of which one \`POST /admin/events/replay\` \`{"state":"unmapped","limit":${s.syncReplayEvents}}\` replays the first ${fmt.int(s.syncReplayEvents)} and answers when done. ` +
      `(a) Replay: a store with ${fmt.int(s.replayEvents)} unmapped events (the samples) is replayed by one \`POST /admin/events/replay\` \`{"state":"unmapped","background":true}\`, polling \`GET /admin/jobs/{id}\` every 200 ms until done; the relay's delivery of what it re-queues runs meanwhile. ` +
      `(b) Prune: a store with ${fmt.int(s.pruneRows)} events delivered a month ago, each with its delivered message (about 1.2 KB) and one delivery attempt, written with the relay's own migrations (bench/stall/stall-stores.ts); the relay starts on it with \`DEDUP_RETENTION_HOURS=192\` and \`PRUNE_INTERVAL_MS=3000\`. Webhooks flow from start-up (a relay opening a store this size answers its first webhooks slowly, prune or not) but count from the prune's first committed chunk (the oldest message gone, read through a read-only connection) until the relay logs the prune's totals or no old row is left.`,
    `- 1b. PostgreSQL: as 1. (wrk, ${pg.connections} connections, ${pg.seconds} s after a ${pg.warmupSeconds} s warm-up, production settings, delivery running), one relay on a fresh PostgreSQL database against one on a fresh SQLite file, ${pg.rounds} rounds alternating ABBA; medians. ` +
      'PostgreSQL is the server TEST_POSTGRES_URL names, else a throwaway cluster with durable defaults (fsync and synchronous_commit on) started by the bench; it shares the machine, and its CPU is not in the relay\'s µs per webhook.',
  ];
}

/** What the slow webhooks waited behind (bench/stall/stall-diagnosis.ts); older results lack the disk's part. */
function slowWebhooks(d: StallDiagnosis | undefined): string {
  if (!d) return '';
  const others = d.othersMb === undefined ? 'disk not sampled' : `${fmt.int(d.duringOthersWrites)} (${fmt.int(d.othersMb)} MB)`;
  return `${fmt.int(d.slow)}: ${fmt.int(d.duringTruncate)} / ${others}`;
}

export function stallMarkdown(s: StallResult): string[] {
  return [
    `## 6. Webhooks at ${s.rate}/s while a long store job runs`,
    '',
    table(
      ['job', 'prefill', 'job took', 'processed', 'webhooks p50', 'p99', 'max', 'accepted / due', 'refused or failed', 'RSS peak', 'webhooks ≥ 40 ms: during a TRUNCATE / others\' disk writes (MB in the window)'],
      [...(s.syncReplay ? [s.syncReplay] : []), s.replay, s.prune].map((r) => [
        `${r.job} of ${fmt.int(r.size)}${r.complete ? '' : ' (NOT complete)'}`,
        `${r.prefillS.toFixed(1)} s`,
        `${(r.jobMs / 1000).toFixed(1)} s`,
        Object.entries(r.processed)
          .map(([k, v]) => `${fmt.int(v)} ${k}`)
          .join(', ') + (r.job === 'prune' ? ` (${fmt.int((((r.processed['events'] ?? 0) + (r.processed['messages'] ?? 0)) / r.jobMs) * 1000)} rows/s)` : ''),
        fmt.ms(r.webhooks.p50Ms),
        fmt.ms(r.webhooks.p99Ms),
        fmt.ms(r.webhooks.maxMs),
        `${fmt.int(r.webhooks.accepted)} / ${fmt.int(r.webhooks.due)}`,
        `${JSON.stringify(r.webhooks.statuses)}, ${r.webhooks.networkErrors} network, ${r.webhooks.skipped} skipped`,
        fmt.mb(r.peakRssMb),
        slowWebhooks(r.diagnosis),
      ]),
    ),
  ];
}

export function postgresMarkdown(p: PostgresResult): string[] {
  if (p.skipped !== undefined) return ['## 1b. PostgreSQL, one replica, beside SQLite', '', `Skipped: ${p.skipped}.`];
  return [
    '## 1b. PostgreSQL, one replica, beside SQLite',
    '',
    `PostgreSQL ${p.version}: ${p.origin}.`,
    '',
    table(
      ['round', 'store', 'webhooks/s', 'p50', 'p99', 'max', 'errors', 'accepted', 'relay CPU µs/webhook'],
      p.rounds.map((x) => [String(x.round + 1), x.store, fmt.int(x.wrk.rps), fmt.ms(x.wrk.p50Ms), fmt.ms(x.wrk.p99Ms), fmt.ms(x.wrk.maxMs), String(x.wrk.errors), fmt.int(x.accepted), fmt.int(x.cpuUs)]),
    ),
    '',
    `Medians: PostgreSQL ${fmt.int(p.postgres.rps)} webhooks/s (${fmt.int(p.postgres.rpsRange[0])}–${fmt.int(p.postgres.rpsRange[1])}), p99 ${fmt.ms(p.postgres.p99Ms)}, ${fmt.int(p.postgres.cpuUs)} µs/webhook; ` +
      `SQLite ${fmt.int(p.sqlite.rps)} webhooks/s (${fmt.int(p.sqlite.rpsRange[0])}–${fmt.int(p.sqlite.rpsRange[1])}), p99 ${fmt.ms(p.sqlite.p99Ms)}, ${fmt.int(p.sqlite.cpuUs)} µs/webhook; PostgreSQL ÷ SQLite ${p.rpsRatio.toFixed(2)}.`,
  ];
}

/** Each side's medians, unpinned and pinned, with the relay's ratios to the limit. */
export function ingestModesTable(ingest: IngestResult): string {
  const modes = [ingest.unpinned, ...(ingest.pinned ? [ingest.pinned] : [])];
  const rows = modes.flatMap((m: ModeSummary) =>
    Object.entries(m.sides).map(([side, s]) => [
      m.pinned ? 'pinned' : 'unpinned',
      side,
      fmt.int(s.rps),
      fmt.ms(s.p99Ms),
      fmt.int(s.cpuIngestUs),
      side === 'bare' ? '' : fmt.int(s.cpuEndToEndUs),
      side === 'relay' ? `${m.relayOverLimitRps.toFixed(2)} / ${m.relayOverLimitCpu.toFixed(2)}` : '',
    ]),
  );
  return table(['rounds', 'side', 'req/s (median)', 'p99', 'CPU µs/webhook, ingest', 'CPU µs/webhook, end to end', 'relay ÷ limit: req/s / CPU µs'], rows);
}
