import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './repo-root.js';

/**
 * The Node flags the relay runs with, read from package.json's `start` script
 * (`node <flags> dist/src/server.js`): the one place they are written. The bench and the process
 * tests start the relay with them, so what they measure is what `npm start` and the Dockerfile run
 * (test/ops/node-flags.test.ts checks the Dockerfile's CMD against them).
 */
export function relayNodeFlags(root = ROOT): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const start = pkg.scripts['start'] ?? '';
  const match = /^node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/server\.js$/.exec(start);
  if (!match) throw new Error(`package.json: the start script must read "node [--flags] dist/src/server.js", not "${start}"`);
  return match[1]!.split(' ').filter(Boolean);
}
