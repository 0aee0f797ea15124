import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { relayNodeFlags } from '../../support/relay-node-flags.js';
import { ROOT as root } from '../../support/repo-root.js';
const entry = join(root, 'dist', 'src', 'server.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entryName of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entryName.name);
    newest = Math.max(newest, entryName.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a single test file run from an editor builds here if dist is stale. */
export function ensureBuilt(): void {
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(root, 'src'))) return;
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}

export interface RelayProcess {
  child: ChildProcess;
  port: number;
  /** The public listener: POST /webhooks/capillary, /healthz, /readyz. */
  url: string;
  /** The operations listener: /metrics, /admin/*, /healthz, /readyz (the same as url when OPS_PORT equals PORT). */
  opsUrl: string;
  /** Every log line the process printed (JSON). */
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the built relay (`node <flags> dist/src/server.js`, exactly what `npm start` runs) as a real
 * process on a free port, and resolves once it logs that it is listening.
 */
export async function startRelay(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<RelayProcess> {
  ensureBuilt();
  const child = spawn(process.execPath, [...relayNodeFlags(), entry], {
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ports = await new Promise<{ port: number; opsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start in time:\n${logs.join('\n')}`)), options.timeoutMs ?? 20_000);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        try {
          const parsed = JSON.parse(line) as { msg?: string; port?: number; opsPort?: number | string };
          if (parsed.msg?.startsWith('relay listening') && parsed.port) {
            clearTimeout(timer);
            resolve({ port: parsed.port, opsPort: typeof parsed.opsPort === 'number' ? parsed.opsPort : parsed.port });
          }
        } catch {
          // not JSON (e.g. a config error line on stderr)
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`relay exited before listening (code ${code}, signal ${signal}):\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    port: ports.port,
    url: `http://127.0.0.1:${ports.port}`,
    opsUrl: `http://127.0.0.1:${ports.opsPort}`,
    logs,
    exited,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
