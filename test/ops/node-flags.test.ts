import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relayNodeFlags } from '../../support/relay-node-flags.js';

/**
 * The relay's Node flags (docs/performance.md, "Memory") are written once, in package.json's start script; the
 * bench and the process tests read them from there (support/relay-node-flags.ts). The Dockerfile and
 * docker-compose cannot, so this keeps them in step.
 */
const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('the relay runs with the same Node flags everywhere', () => {
  const flags = relayNodeFlags(root);

  it('package.json starts the relay with a smaller young generation and a small heap limit', () => {
    expect(flags).toEqual(['--max-semi-space-size=8', '--max-old-space-size=256']);
  });

  it("the Dockerfile's CMD runs what npm start runs", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'));
    expect(cmd, 'a CMD in exec form').not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual(['node', ...flags, 'dist/src/server.js']);
  });

  it('docker-compose runs the image as built (no command or NODE_OPTIONS of its own)', () => {
    const compose = read('docker-compose.yml');
    expect(compose).not.toMatch(/^\s*(command|entrypoint):/m);
    expect(compose).not.toMatch(/NODE_OPTIONS/);
  });
});
