import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { relayListening, startListening, type Exit, type ListeningProcess } from '../../support/listening-process.js';
import { relayNodeFlags, relayStartEnv } from '../../support/relay-node-flags.js';
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

export interface RelayProcess extends ListeningProcess {
  /** Sends `signal` (SIGKILL by default) unless it has exited, and resolves with how it exited. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * Starts the built relay (`node <flags> dist/src/server.js` with the start script's environment, exactly what `npm start` runs) as a real
 * process on a free port, and resolves once it logs that it is listening. Every log line is kept.
 */
export async function startRelay(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<RelayProcess> {
  ensureBuilt();
  const relay = await startListening(entry, {
    name: 'relay',
    env: { ...relayStartEnv(), PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    nodeArgs: relayNodeFlags(),
    ready: relayListening,
    timeoutMs: options.timeoutMs ?? 20_000,
  });
  return {
    ...relay,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (relay.child.exitCode === null && relay.child.signalCode === null) relay.child.kill(signal);
      return relay.exited;
    },
  };
}
