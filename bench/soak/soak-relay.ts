/**
 * The relay under soak: one process at a time on fixed ports (so senders reach a restarted relay
 * at the same address), killed with SIGKILL and restarted on the same store, with its memory and
 * open file descriptors read from /proc at the start and end of each process.
 */
import { readdirSync } from 'node:fs';
import { freePort } from '../../support/postgres-server.js';
import { sampleProcess, startRelay, type ServerProcess } from '../harness/processes.js';

export interface ProcessRecord {
  pid: number;
  startedAt: number;
  endedAt?: number;
  endedBy?: 'kill -9' | 'end of run';
  rssStartMb: number;
  fdStart: number;
  rssEndMb?: number;
  /** VmHWM at the end: the process's peak RSS. */
  peakRssMb?: number;
  fdEnd?: number;
}

export interface SoakRelay {
  readonly url: string;
  opsUrl(): string;
  readonly processes: ProcessRecord[];
  /** SIGKILL, then start a new process on the same store; resolves once it listens. */
  killAndRestart(): Promise<void>;
  /** Reads the ops listener's /metrics and sums the samples of one metric (undefined when absent). */
  metric(name: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

export async function startSoakRelay(env: Record<string, string>): Promise<SoakRelay> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const fixed = { ...env, PORT: String(port), OPS_PORT: String(opsPort) };
  const processes: ProcessRecord[] = [];
  let current!: ServerProcess;

  const launch = async () => {
    current = await startRelay(fixed);
    processes.push({ pid: current.pid, startedAt: Date.now(), rssStartMb: sampleProcess(current.pid)?.rssMb ?? NaN, fdStart: openFds(current.pid) });
  };
  const recordEnd = (endedBy: ProcessRecord['endedBy']) => {
    const record = processes[processes.length - 1]!;
    const sample = sampleProcess(current.pid);
    Object.assign(record, { endedAt: Date.now(), endedBy, rssEndMb: sample?.rssMb ?? NaN, peakRssMb: sample?.hwmMb ?? NaN, fdEnd: openFds(current.pid) });
  };
  await launch();

  return {
    url: `http://127.0.0.1:${port}`,
    opsUrl: () => current.opsUrl,
    processes,
    async killAndRestart() {
      recordEnd('kill -9');
      // `exited` is watched from the spawn on, so a relay that died by itself has it resolved already.
      current.child.kill('SIGKILL');
      await current.exited;
      await launch();
    },
    async metric(name) {
      const res = await fetch(`${current.opsUrl}/metrics`);
      const text = await res.text();
      let sum: number | undefined;
      for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum = (sum ?? 0) + Number(match[1]);
      return sum;
    },
    async stop() {
      recordEnd('end of run');
      await current.stop();
    },
  };
}
