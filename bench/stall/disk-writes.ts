import { readFileSync, statSync } from 'node:fs';

/**
 * What the disk under the store wrote while a stall run was measured, and how much of it the relay
 * wrote: every webhook's commit ends in an fsync, and an fsync waits for the device's queue, so
 * another process's writes (another job on the machine, a database flushing its checkpoint) can hold
 * a webhook for hundreds of milliseconds whatever the relay does. Phase 6 lines its slow webhooks up
 * with these samples, as it does with checkpoints (stall-diagnosis.ts).
 */
export interface DiskWriteSample {
  at: number;
  /** Bytes the block device holding the store has written since boot (/sys/dev/block/M:m/stat). */
  deviceBytes: number;
  /** Bytes the relay's process has caused to be written (/proc/PID/io write_bytes). */
  relayBytes: number;
}

const SECTOR_BYTES = 512;

/** /sys/dev/block's entry for the device (or partition) a path lives on; undefined where there is none (tmpfs). */
function deviceStatPath(path: string): string | undefined {
  const dev = statSync(path).dev;
  // Linux's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
  const major = ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >> 12) & ~0xff);
  const stat = `/sys/dev/block/${major}:${minor}/stat`;
  try {
    readFileSync(stat);
    return stat;
  } catch {
    return undefined;
  }
}

/** Samples every `everyMs` until stopped; an empty list where the disk cannot be read (no /sys, tmpfs). */
export function sampleDiskWrites(path: string, pid: number, everyMs = 20): { stop(): DiskWriteSample[] } {
  const samples: DiskWriteSample[] = [];
  const stat = deviceStatPath(path);
  const read = () => {
    try {
      // Field 7 of the block stat file: sectors written.
      const deviceBytes = Number(readFileSync(stat!, 'utf8').trim().split(/\s+/)[6]) * SECTOR_BYTES;
      const relayBytes = Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
      if (Number.isFinite(deviceBytes) && Number.isFinite(relayBytes)) samples.push({ at: Date.now(), deviceBytes, relayBytes });
    } catch {
      // the relay has exited, or /proc is not readable: the samples end here
    }
  };
  const timer = stat ? setInterval(read, everyMs) : undefined;
  if (stat) read();
  return {
    stop() {
      if (timer) clearInterval(timer);
      if (stat) read();
      return samples;
    },
  };
}

/** Bytes the device wrote between `from` and `to` (widened to the samples around them) that the relay did not. */
export function othersWroteBetween(samples: DiskWriteSample[], from: number, to: number): number {
  let first: DiskWriteSample | undefined;
  let last: DiskWriteSample | undefined;
  for (const s of samples) {
    if (s.at <= from) first = s;
    if (s.at >= to) {
      last = s;
      break;
    }
  }
  first ??= samples[0];
  last ??= samples[samples.length - 1];
  if (!first || !last || last === first) return 0;
  return Math.max(0, last.deviceBytes - first.deviceBytes - (last.relayBytes - first.relayBytes));
}
