import type { GenResult } from '../load/load-gen.js';
import { othersWroteBetween, type DiskWriteSample } from './disk-writes.js';

/** Another process's writes this large during a webhook's wait put its fsync behind them (the relay's own fsyncs are a few KB). */
const OTHERS_WRITES_BYTES = 8 * 1024 * 1024;

/** A checkpoint the relay logged ('WAL checkpoint', src/store/create-store.ts): when it ended, its mode and time. */
export interface CheckpointLog {
  endAt: number;
  mode: string;
  ms: number;
  walBytes: number;
  busy: number;
}

/** What the slow webhooks of a stall run waited behind: checkpoints that held writers, the bench's own reads. */
export interface StallDiagnosis {
  /** Webhooks answered in 40 ms or more (the load generator's `slow`, at most 400). */
  slow: number;
  /** Of those, the ones whose wait overlapped a TRUNCATE checkpoint (it holds the write lock). */
  duringTruncate: number;
  /** Of those, the ones whose wait overlapped one of the bench's reads of the store (a long read transaction). */
  duringBenchRead: number;
  /** Of those, the ones during whose wait the disk wrote 8 MB or more that the relay did not (disk-writes.ts). */
  duringOthersWrites: number;
  /** What the disk wrote in the measured window that the relay did not, in MB; undefined where the disk was not sampled. */
  othersMb: number | undefined;
  checkpoints: CheckpointLog[];
  benchReads: number;
}

export function checkpointLogs(lines: string[]): CheckpointLog[] {
  const out: CheckpointLog[] = [];
  for (const line of lines) {
    if (!line.includes('"WAL checkpoint"')) continue;
    try {
      const l = JSON.parse(line) as { time: number | string; mode: string; ms: number; walBytes: number; busy: number };
      out.push({ endAt: typeof l.time === 'number' ? l.time : Date.parse(l.time), mode: l.mode, ms: l.ms, walBytes: l.walBytes, busy: l.busy });
    } catch {
      // not a log line
    }
  }
  return out;
}

const overlaps = (a: [number, number], b: [number, number]) => a[0] < b[1] && b[0] < a[1];

/** Lines slow webhooks up with what ran at the same time (a few ms of slack: the log's time is taken after the checkpoint crossed threads). */
export function diagnoseStalls(webhooks: GenResult, checkpoints: CheckpointLog[], benchReads: Array<[number, number]>, disk: DiskWriteSample[]): StallDiagnosis {
  const slow = webhooks.slow ?? [];
  const truncates = checkpoints.filter((c) => c.mode === 'TRUNCATE').map((c): [number, number] => [c.endAt - c.ms - 5, c.endAt + 5]);
  const waits = slow.map(([due, ms]): [number, number] => [due, due + ms]);
  return {
    slow: slow.length,
    duringTruncate: waits.filter((w) => truncates.some((t) => overlaps(w, t))).length,
    duringBenchRead: waits.filter((w) => benchReads.some((r) => overlaps(w, r))).length,
    duringOthersWrites: waits.filter(([from, to]) => othersWroteBetween(disk, from, to) >= OTHERS_WRITES_BYTES).length,
    othersMb: disk.length > 1 ? othersWroteBetween(disk, disk[0]!.at, disk[disk.length - 1]!.at) / 2 ** 20 : undefined,
    checkpoints,
    benchReads: benchReads.length,
  };
}

export function diagnosisLine(d: StallDiagnosis): string {
  const truncates = d.checkpoints.filter((c) => c.mode === 'TRUNCATE');
  const longest = truncates.reduce((m, c) => Math.max(m, c.ms), 0);
  return (
    `${d.slow} webhooks ≥ 40 ms: ${d.duringTruncate} during a TRUNCATE checkpoint, ${d.duringBenchRead} during one of the bench's ${d.benchReads} reads, ` +
    `${d.othersMb === undefined ? 'the disk not sampled' : `${d.duringOthersWrites} during other processes' disk writes (${d.othersMb.toFixed(0)} MB in the window)`}; ` +
    `${truncates.length} TRUNCATE checkpoints (longest ${longest.toFixed(0)} ms, ${truncates.filter((c) => c.busy).length} gave up), ` +
    `${d.checkpoints.length - truncates.length} slow PASSIVE ones`
  );
}
