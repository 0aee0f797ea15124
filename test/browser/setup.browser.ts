import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AEP, aepEnv } from '../helpers/aep-relay.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startFakePlatform, type FakePlatform, type FakeSandbox } from '../helpers/fake-platform.js';
import { resolvedSchema, wellSetUpSandbox } from '../helpers/platform-sandbox.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';

/**
 * The console's Setup page (issue 16) in Chromium against the real relay process, fake IMS, DCS and
 * Platform: a sandbox whose event schema lacks the tenant field group shows field_coverage failing
 * with its fix; after the fix, "Read schemas again" says the customer's schemas are read. Checked with
 * axe-core, screenshotted for docs/setup-check.md.
 */
const SECRET = 'browser-test-secret-0123456789';
const ADMIN_TOKEN = 'browser-admin-token-0123456789abcdef0123';
const root = join(import.meta.dirname, '..', '..');
const shots = join(root, 'docs', 'console');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'relay-setup-page-'));

let browser: Browser;
let ims: FakeIms;
let dcs: FakeDcs;
let platform: FakePlatform;
let sandbox: FakeSandbox;
let relay: RelayProcess;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims });
  sandbox = wellSetUpSandbox({ inletUrl: dcs.inletUrl() });
  sandbox.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
  platform = await startFakePlatform({ ims, orgId: AEP.orgId, sandboxes: [sandbox] });
  relay = await startRelay({ ...aepEnv(ims, dcs, { AEP_PLATFORM_URL: platform.origin, AEP_SCHEMA_VALIDATION: 'hold' }), CAPILLARY_AUTH_SECRETS: SECRET, ADMIN_TOKEN, STORE_URL: `sqlite:${join(dir, 'relay.db')}` });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
});

afterAll(async () => {
  await page?.context().close();
  await browser?.close();
  await relay?.kill('SIGTERM');
  await Promise.all([platform?.close(), dcs?.close(), ims?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('the console Setup page', () => {
  it('shows each check of the route, the failing one with its fix, and reads the schemas again on request', async () => {
    await page.goto(`${relay.opsUrl}/console`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('link', { name: 'Setup' }).click();
    await page.getByRole('heading', { name: /Route default/ }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'field_coverage' });
    expect(await row.innerText()).toMatch(/field_coverage\s+fail\s+the event schema lacks 1 field the mapping writes: _acmecorp[\s\S]*add the missing field groups/);
    expect(await page.getByRole('row').filter({ hasText: 'ims_token' }).innerText()).toMatch(/ims_token\s+ok/);

    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }).axe.run();
      return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
    });
    expect(violations).toEqual([]);
    await page.screenshot({ path: join(shots, 'setup.png'), fullPage: true });

    sandbox.schemas = [resolvedSchema('event'), resolvedSchema('profile')];
    await page.getByRole('button', { name: 'Read schemas again' }).click();
    await page.getByRole('status').filter({ hasText: "default event: customer's schema" }).waitFor();
    expect(consoleErrors).toEqual([]);
  });
});
