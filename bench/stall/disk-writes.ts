import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';

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
  return existsSync(stat) ? stat : undefined;
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

/**
 * Another process writing to the store's disk: `mb` MB flushed with fdatasync, then a pause of
 * `pauseMs`, over and over until stopped (BENCH_STALL_OTHER_WRITES_MB). It shows what phase 6's
 * "others' disk writes" column looks like when the disk is shared, so the attribution can be
 * checked against a cause known to be there.
 */
export function startOtherWriter(dir: string, mb: number, pauseMs = 3000): { stop(): Promise<void> } {
  const script = `
    const { openSync, writeSync, fdatasyncSync, closeSync, rmSync } = require('node:fs');
    const path = ${JSON.stringify(`${dir}/other-writer.bin`)};
    const chunk = Buffer.alloc(1 << 20, 1);
    const burst = () => {
      const fd = openSync(path, 'w');
      for (let i = 0; i < ${mb}; i += 1) writeSync(fd, chunk);
      fdatasyncSync(fd);
      closeSync(fd);
      rmSync(path, { force: true });
      setTimeout(burst, ${pauseMs});
    };
    burst();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
