/**
 * A Node script started as a real process and resolved once a JSON line it prints says it listens:
 * the relay of the process tests (test/helpers/relay-process.ts) and the benchmarks' relays and
 * servers (bench/harness/processes.ts). Not part of the relay: built with bench/, never shipped.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ListeningProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** The public listener. */
  url: string;
  /** The relay's operations listener (`opsPort` in its line); the same as url for other servers. */
  opsUrl: string;
  /** The lines it printed on stdout and stderr (the last `keepLines`), JSON or not. */
  logs: string[];
  /** Resolves once the process has exited, however (it is watched from the spawn on). */
  exited: Promise<Exit>;
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`); nothing once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ListenOptions {
  /** Names the process in the errors. */
  name: string;
  /** Its whole environment but PATH: only what the caller sets, nothing of the calling shell's. */
  env: Record<string, string>;
  nodeArgs?: string[] | undefined;
  /** The Node binary to run it with (another Node version, for a side-by-side run); this process's by default. */
  node?: string | undefined;
  cwd?: string | undefined;
  /** Whether a JSON line carrying a numeric `port` is the one that says the process is ready. */
  ready: (line: Record<string, unknown>) => boolean;
  timeoutMs: number;
  /** How many lines `logs` keeps (a long run's relay prints many); all by default. */
  keepLines?: number | undefined;
  /** How many of the last lines an error quotes; all it kept by default. */
  errorLines?: number | undefined;
}

/** The relay's "relay listening ..." line. */
export const relayListening = (line: Record<string, unknown>): boolean => typeof line['msg'] === 'string' && line['msg'].startsWith('relay listening');

/** `node [nodeArgs] script`, resolved with its ports once a line satisfies `ready`; rejected if it exits first or takes too long. */
export async function startListening(script: string, options: ListenOptions): Promise<ListeningProcess> {
  const child = spawn(options.node ?? process.execPath, [...(options.nodeArgs ?? []), script], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const keep = options.keepLines ?? Infinity;
  const quoted = () => logs.slice(-(options.errorLines ?? logs.length)).join('\n');
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const { port, opsPort } = await new Promise<{ port: number; opsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name} did not start in time:\n${quoted()}`)), options.timeoutMs);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        if (logs.length > keep) logs.shift();
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (typeof parsed['port'] === 'number' && options.ready(parsed)) {
            clearTimeout(timer);
            resolve({ port: parsed['port'], opsPort: typeof parsed['opsPort'] === 'number' ? parsed['opsPort'] : parsed['port'] });
          }
        } catch {
          // not JSON (e.g. a configuration error on stderr)
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited before listening (code ${code}, signal ${signal}):\n${quoted()}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    opsUrl: `http://127.0.0.1:${opsPort}`,
    logs,
    exited,
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}
