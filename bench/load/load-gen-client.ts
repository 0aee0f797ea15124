import { fork, type ChildProcess } from 'node:child_process';
import { distScript } from '../harness/processes.js';
import type { GenCommand, GenResult } from './load-gen.js';

/** The load generator child process (load-gen.ts), one command at a time. */
export interface LoadGen {
  pid: number;
  run(command: Exclude<GenCommand, { cmd: 'exit' | 'stop' }>): Promise<GenResult>;
  /** Ends the running `rate` command early; its run() then resolves with what was sent so far. */
  stop(): void;
  close(): Promise<void>;
}

export async function startLoadGen(): Promise<LoadGen> {
  const child: ChildProcess = fork(distScript('bench/load/load-gen.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench: load generator exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    run(command) {
      return new Promise((resolve, reject) => {
        child.once('message', (m: { ok: boolean; result?: GenResult; error?: string }) => (m.ok ? resolve(m.result!) : reject(new Error(m.error))));
        child.send(command);
      });
    },
    stop() {
      child.send({ cmd: 'stop' });
    },
    async close() {
      if (child.exitCode !== null) return;
      child.send({ cmd: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
