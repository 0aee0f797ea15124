import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * scripts/check-node.mjs runs before `npm start` and `npm test`: on a Node older than engines.node
 * it must print one clear line and exit 1. The machine's Node is new enough, so the older Node is
 * faked through the script's version argument (the test must not depend on an old Node installed).
 */
const root = join(import.meta.dirname, '..', '..');
const script = join(root, 'scripts', 'check-node.mjs');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; engines: { node: string }; scripts: Record<string, string> };

function check(...args: string[]) {
  const run = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('scripts/check-node.mjs', () => {
  it('reads the minimum from package.json, which asks for Node 24', () => {
    expect(pkg.engines.node).toBe('>=24');
  });

  it('stops Node 20 with a message that names the need, the version found and the fix', () => {
    const run = check('v20.18.1');
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'capillary-aep-relay needs Node >=24; this is v20.18.1.\n' +
        'Install Node 24 (https://nodejs.org/en/download, or `nvm install 24`), then reinstall the ' +
        'dependencies with it (`rm -rf node_modules && npm ci`) so better-sqlite3 is built for that Node.\n',
    );
  });

  it('stops the last release before the minimum and passes the minimum and later ones silently', () => {
    expect(check('v23.11.1').status).toBe(1);
    for (const version of ['v24.0.0', '24.22.3', 'v25.1.0', 'v26.0.0']) expect(check(version), version).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('passes the Node running the tests (no argument)', () => {
    expect(check()).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('says so, with exit 2, when the version cannot be read', () => {
    const run = check('twenty');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('cannot read the Node version "twenty"');
  });

  it('runs before npm start and npm test', () => {
    expect(pkg.scripts['prestart']).toMatch(/^node scripts\/check-node\.mjs && /);
    expect(pkg.scripts['pretest']).toBe('node scripts/check-node.mjs');
  });
});
