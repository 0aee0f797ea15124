/** The soak's figures: one table printed and written as markdown (bench/soak/SOAK.md by default). */
import type { FaultRecord } from './soak-faults.js';
import type { ProcessRecord } from './soak-relay.js';

export interface SoakFigures {
  store: string;
  minutes: number;
  /** How long the load actually ran (a fault that began in the last minute runs to its end). */
  loadSeconds: number;
  faultEverySeconds: number;
  startedAt: number;
  rate: number;
  senders: number;
  issued: number;
  acknowledged: number;
  delivered: number;
  lost: number;
  drainSeconds: number;
  drained: boolean;
  /** Messages Adobe accepted more than once, and the extra deliveries. */
  duplicateMessages: number;
  extraDeliveries: number;
  duplicateCauses: Record<string, number>;
  deadLettered: number | undefined;
  unidentified: number;
  webhookOutcomes: Record<string, number>;
  adobeAnswers: Record<string, number>;
  processes: ProcessRecord[];
  faults: FaultRecord[];
}

const mb = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} MB`);
const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toLocaleString('en-US'));
const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const list = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}: ${num(v)}`)
    .join(', ') || 'none';

export function renderSoak(f: SoakFigures): string {
  const first = f.processes[0];
  const last = f.processes[f.processes.length - 1];
  const rows: Array<[string, string]> = [
    ['store', f.store],
    ['minutes under load', `${f.minutes} (load ran ${f.loadSeconds.toFixed(0)} s)`],
    ['load', `${f.rate} webhooks/s from the Capillary samples, unique event ids, ${f.senders} senders, each retried until 202`],
    ['faults', `${f.faults.length}, one every ${f.faultEverySeconds} s: ${list(countBy(f.faults.map((x) => x.kind)))}`],
    ['webhooks issued', num(f.issued)],
    ['acknowledged (202)', num(f.acknowledged)],
    ['delivered (accepted by the fake Adobe, by _id)', num(f.delivered)],
    ['**lost** (acknowledged, never delivered)', `**${num(f.lost)}**${f.drained ? '' : ' (drain timed out)'}`],
    ['duplicates (messages delivered more than once)', `${num(f.duplicateMessages)} (${num(f.extraDeliveries)} extra deliveries)`],
    ['duplicate causes', list(f.duplicateCauses)],
    ['dead-lettered', num(f.deadLettered)],
    ['delivered without an _id', num(f.unidentified)],
    ['drain after the load stopped', `${f.drainSeconds.toFixed(0)} s`],
    ['RSS at start / end (first process, last process)', `${mb(first?.rssStartMb)} / ${mb(last?.rssEndMb)}`],
    ['open fds at start / end (first process, last process)', `${num(first?.fdStart)} / ${num(last?.fdEnd)}`],
    ['webhook answers', list(f.webhookOutcomes)],
    ['fake Adobe answers', list(f.adobeAnswers)],
  ];
  const lines = [
    `# Soak: ${f.minutes} min on ${f.store}, started ${new Date(f.startedAt).toISOString()}`,
    '',
    'Produced by `npm run soak` (bench/soak/soak.ts): the built relay process, a counting fake Adobe on 127.0.0.1.',
    '',
    '| figure | value |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    'Relay processes (each kill -9 ends one; RSS from /proc/<pid>/status VmRSS, peak = VmHWM, fds = /proc/<pid>/fd):',
    '',
    '| pid | ran | ended by | RSS start | RSS end | peak RSS | fds start | fds end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...f.processes.map(
      (p) =>
        `| ${p.pid} | ${time(p.startedAt)}-${p.endedAt ? time(p.endedAt) : '?'} | ${p.endedBy ?? '?'} | ${mb(p.rssStartMb)} | ${mb(p.rssEndMb)} | ${mb(p.peakRssMb)} | ${num(p.fdStart)} | ${num(p.fdEnd)} |`,
    ),
    '',
    'Faults:',
    '',
    '| at | fault | detail |',
    '| --- | --- | --- |',
    ...f.faults.map((x) => `| ${time(x.startAt)} | ${x.kind} | ${x.detail} |`),
    '',
  ];
  return lines.join('\n');
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
