import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './repo-root.js';

/**
 * How the relay is started, read from package.json's `start` script
 * (`[NAME=value ...] node <flags> dist/src/server.js`): the one place it is written. The bench and the
 * process tests start the relay with the same environment and flags, so what they measure is what
 * `npm start` and the Dockerfile run (test/ops/node-flags.test.ts checks the Dockerfile against them).
 */
const parsed = new Map<string, { env: Record<string, string>; flags: string[] }>();

function startCommand(root: string): { env: Record<string, string>; flags: string[] } {
  // Read once per checkout: every relay a bench or test starts asks for both halves.
  const known = parsed.get(root);
  if (known) return known;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const start = pkg.scripts['start'] ?? '';
  const match = /^((?:[A-Z_]+=\S+ )*)node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/server\.js$/.exec(start);
  if (!match) throw new Error(`package.json: the start script must read "[NAME=value ...] node [--flags] dist/src/server.js", not "${start}"`);
  const env = Object.fromEntries(match[1]!.split(' ').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  const command = { env, flags: match[2]!.split(' ').filter(Boolean) };
  parsed.set(root, command);
  return command;
}

/** The Node flags of the start script. */
export function relayNodeFlags(root = ROOT): string[] {
  return [...startCommand(root).flags];
}

/** The environment the start script sets before `node` (read by the C library at start, so not settable from inside). */
export function relayStartEnv(root = ROOT): Record<string, string> {
  return { ...startCommand(root).env };
}
