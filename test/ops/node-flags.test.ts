import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relayNodeFlags, relayStartEnv } from '../../support/relay-node-flags.js';

/**
 * The relay's Node version and flags. The version: package.json's engines names the major, the
 * Dockerfile pins one release of it for both stages, and .ci/run tests on that release.
 * The flags and the environment (docs/performance.md, "Memory") are written once, in package.json's start script; the
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

  it('package.json starts the relay with one malloc arena for all its threads', () => {
    expect(relayStartEnv(root)).toEqual({ MALLOC_ARENA_MAX: '1' });
  });

  it("the Dockerfile's environment sets what the start script sets", () => {
    const dockerfile = read('Dockerfile');
    for (const [name, value] of Object.entries(relayStartEnv(root))) expect(dockerfile).toMatch(new RegExp(`^ENV ${name}=${value} `, 'm'));
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

describe('the relay runs on the same Node everywhere', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  const dockerfile = read('Dockerfile');
  const pinned = /^ARG NODE_VERSION=(\d+)\.(\d+)\.(\d+)$/m.exec(dockerfile);

  it('package.json asks for Node 24 or later', () => {
    expect(engines).toBe('>=24');
  });

  it('the Dockerfile pins one exact release of that major, once, for every stage', () => {
    expect(pinned, 'an ARG NODE_VERSION=X.Y.Z').not.toBeNull();
    expect(`>=${pinned![1]}`).toBe(engines);
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toEqual(['node:${NODE_VERSION}-bookworm-slim', 'node:${NODE_VERSION}-bookworm-slim']);
    expect(dockerfile.match(/^ARG NODE_VERSION=/gm)).toHaveLength(1);
  });

  it(".ci/run installs the Dockerfile's release when the machine's Node is older", () => {
    const ci = read('.ci/run');
    expect(ci).toMatch(/NODE_VERSION="\$\(sed -n 's\/\^ARG NODE_VERSION=\/\/p' Dockerfile\)"/);
    expect(ci).toMatch(/npm_config_nodedir=/);
  });
});
