import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AEP, aepEnv } from '../helpers/aep-relay.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startFakePlatform, type FakePlatform, type FakeSandbox } from '../helpers/fake-platform.js';
import { resolvedSchema, wellSetUpSandbox } from '../helpers/platform-sandbox.js';
import { ensureBuilt } from '../helpers/relay-process.js';

/** `npm run check-setup` as users run it (the built CLI, a real process) against the fake Platform. */

const root = join(import.meta.dirname, '..', '..');
let ims: FakeIms;
let dcs: FakeDcs;
let platform: FakePlatform;
let sandbox: FakeSandbox;

beforeAll(async () => {
  ensureBuilt();
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims });
  sandbox = wellSetUpSandbox({ inletUrl: dcs.inletUrl() });
  platform = await startFakePlatform({ ims, orgId: AEP.orgId, sandboxes: [sandbox] });
});

afterAll(async () => {
  await Promise.all([platform.close(), dcs.close(), ims.close()]);
});

/** Runs the CLI without blocking this process (the fakes answer from here). */
function checkSetup(args: string[], env: Record<string, string> = aepEnv(ims, dcs, { AEP_PLATFORM_URL: platform.origin, AEP_SCHEMA_VALIDATION: 'hold' })): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'check-setup.js'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run check-setup', () => {
  it('a sandbox set up right: a table of ok checks, exit 0', async () => {
    const result = await checkSetup([]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^route default\n/);
    expect(result.stdout).toContain('11 ok, 0 failed, 0 warnings, 0 skipped');
  });

  it('an event schema without the tenant field group: --json names the missing path, exit 1', async () => {
    const good = sandbox.schemas;
    sandbox.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    try {
      const result = await checkSetup(['--', '--route', 'default', '--json']);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { routes: Array<{ route: string; checks: Array<{ name: string; status: string; detail: string; fix: string }> }> };
      expect(report.routes.map((r) => r.route)).toEqual(['default']);
      expect(report.routes[0]!.checks.find((c) => c.name === 'field_coverage')).toMatchObject({ status: 'fail', detail: expect.stringContaining('_acmecorp') });
      expect(Object.keys(report.routes[0]!.checks[0]!).sort()).toEqual(['detail', 'fix', 'name', 'status']);
    } finally {
      sandbox.schemas = good;
    }
  });

  it('usage and configuration errors exit 2', async () => {
    expect((await checkSetup(['--route'])).code).toBe(2);
    expect((await checkSetup(['--route', 'nope'])).stderr).toContain('no route nope (routes: default)');
    const bad = await checkSetup([], { ...aepEnv(ims, dcs), AEP_SCHEMA_VALIDATION: 'sometimes' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('configuration error: AEP_SCHEMA_VALIDATION');
  });
});
