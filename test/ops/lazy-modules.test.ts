import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayListening, startListening } from '../../support/listening-process.js';
import { relayNodeFlags } from '../../support/relay-node-flags.js';
import { ROOT } from '../../support/repo-root.js';
import { ensureBuilt } from '../helpers/relay-process.js';

/**
 * What a relay does not use, it does not load (issue: performance, round three, memory): the
 * console's file server only when the console is served (ADMIN_TOKEN), the YAML parser only for a
 * ROUTES_FILE, the PostgreSQL driver only for a postgres: STORE_URL. Each is memory at rest for
 * nothing otherwise. The built relay starts for real with a module hook printing every module it
 * resolves; the run with ADMIN_TOKEN is the control that shows the hook sees the console's server.
 */
const LAZY = /node_modules\/(@fastify\/static|yaml|pg)\//;

let dir: string;
let hook: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'relay-lazy-'));
  hook = join(dir, 'register.mjs');
  writeFileSync(
    hook,
    "import { registerHooks } from 'node:module';\n" +
      'registerHooks({ resolve(specifier, context, next) {\n  const result = next(specifier, context);\n  process.stdout.write(`resolved ${result.url}\\n`);\n  return result;\n} });\n',
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lazyModulesLoaded(env: Record<string, string>): Promise<string[]> {
  const store = mkdtempSync(join(dir, 'store-'));
  const relay = await startListening(join(ROOT, 'dist', 'src', 'server.js'), {
    name: 'relay',
    env: {
      PORT: '0',
      OPS_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CAPILLARY_AUTH_SECRETS: 'lazy-modules-test-secret',
      STORE_URL: `sqlite:${join(store, 'relay.db')}`,
      DRY_RUN_FILE: join(store, 'dry-run.ndjson'),
      ...env,
    },
    nodeArgs: ['--import', hook, ...relayNodeFlags()],
    ready: relayListening,
    timeoutMs: 20_000,
  });
  await relay.stop();
  const resolved = relay.logs.filter((l) => l.startsWith('resolved ')).map((l) => l.slice('resolved '.length));
  // The relay's own modules went through the hook: it was watching.
  expect(resolved.length).toBeGreaterThan(50);
  return [...new Set(resolved.filter((url) => LAZY.test(url)).map((url) => LAZY.exec(url)![1]!))];
}

describe('modules loaded only when used', () => {
  it('loads neither the console file server, the YAML parser nor the PostgreSQL driver for a SQLite relay without console or routes file', async () => {
    expect(await lazyModulesLoaded({})).toEqual([]);
  });

  it('loads the console file server once the console is served (the control)', async () => {
    expect(await lazyModulesLoaded({ ADMIN_TOKEN: 'lazy-modules-admin-token-0123456789' })).toEqual(['@fastify/static']);
  });
});
