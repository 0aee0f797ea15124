import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * CPU pinning for the ingest rounds (taskset): the server under test on one core, the load generator
 * (wrk, and this process with the fake Adobe) on the other, so a server's webhooks per second are
 * what one core of it does rather than what it wins of two cores shared with wrk. Linux only.
 */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

let available: boolean | undefined;

/** Whether rounds can be pinned here: taskset runs and there are at least two cores. */
export function canPin(): boolean {
  if (available !== undefined) return available;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    available = os.cpus().length >= 2;
  } catch {
    available = false;
  }
  return available;
}

/** Every thread of `pid` (and the threads it starts from now on) runs on `cpus` only ("0", "0,1"). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** The cores `pid` may run on now, as taskset lists them ("0,1", "0-1"). */
export function affinityOf(pid: number): string {
  const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  return out.slice(out.lastIndexOf(':') + 1).trim();
}

/** Runs `fn` with this process (the bench: fake Adobe, wrk's parent) pinned to the load generator's core, then restores its cores. */
export async function withLoadSidePinned<T>(fn: () => Promise<T>): Promise<T> {
  const before = affinityOf(process.pid);
  pin(process.pid, String(LOAD_CPU));
  try {
    return await fn();
  } finally {
    pin(process.pid, before);
  }
}
