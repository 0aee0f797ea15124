import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../../src/adobe/ims-token-provider.js';
import { routePlatform } from '../../src/adobe/platform/route-platform.js';
import { loadConfig } from '../../src/config/config.js';
import type { RouteConfig } from '../../src/config/route-config.js';
import { createMetrics } from '../../src/metrics.js';
import { LOYALTY_FIELDS_ADDED_2025_2026 } from '../../src/mapping/profile-record.js';
import { formatReport } from '../../src/setup-check/format-report.js';
import { checkRoute } from '../../src/setup-check/run-setup-check.js';
import { CHECK_NAMES, exitCodeOf, type CheckName, type RouteReport } from '../../src/setup-check/types.js';
import { AEP, aepEnv } from '../helpers/aep-relay.js';
import { captureLogger } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startFakePlatform, type FakePlatform, type FakeSandbox } from '../helpers/fake-platform.js';
import { resolvedSchema, wellSetUpSandbox } from '../helpers/platform-sandbox.js';

/** One sandbox set up right (every check ok), then one with each check failing. */

let ims: FakeIms;
let dcs: FakeDcs;
let platform: FakePlatform;
let dispatcher: Agent;
const providers: TokenProvider[] = [];
let logs: ReturnType<typeof captureLogger>;

beforeAll(async () => {
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims });
  platform = await startFakePlatform({ ims, orgId: AEP.orgId });
});

afterAll(async () => {
  await Promise.all([platform.close(), dcs.close(), ims.close()]);
});

let sandbox: FakeSandbox;
beforeEach(() => {
  dispatcher = createDispatcher();
  logs = captureLogger();
  sandbox = wellSetUpSandbox({ inletUrl: dcs.inletUrl() });
  platform.addSandbox(sandbox);
  platform.clearFaults();
  ims.setFailure(null);
});

afterEach(async () => {
  for (const t of ims.issuedTokens) expect(logs.lines.join('\n')).not.toContain(t);
  await Promise.all(providers.splice(0).map((p) => p.close()));
  await dispatcher.close();
});

function routeOf(overrides: Record<string, string> = {}): RouteConfig {
  return loadConfig({ CAPILLARY_AUTH_DISABLED: 'true', ...aepEnv(ims, dcs, { AEP_PLATFORM_URL: platform.origin, AEP_SCHEMA_VALIDATION: 'hold', ...overrides }) }).routes[0]!;
}

async function run(overrides: Record<string, string> = {}, timeoutMs = 2_000): Promise<RouteReport> {
  const route = routeOf(overrides);
  const tokens = route.credentials ? createImsTokenProvider({ ...route.credentials, dispatcher, logger: logs.logger, metrics: createMetrics({ defaultMetrics: false }), retryBaseMs: 5, retryMaxMs: 20 }) : undefined;
  if (tokens) providers.push(tokens);
  return checkRoute({ route, platform: routePlatform({ route, tokens, dispatcher, timeoutMs, logger: logs.logger }) });
}

const statuses = (report: RouteReport) => Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
const check = (report: RouteReport, name: CheckName) => report.checks.find((c) => c.name === name)!;

describe('a sandbox set up right', () => {
  it('every check is ok, and the report says so in the JSON shape and as a table', async () => {
    const report = await run();
    expect(report.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(exitCodeOf({ routes: [report] })).toBe(0);
    expect(check(report, 'field_coverage').detail).toMatch(/every field of \d+ mapped messages/);
    expect(check(report, 'inlet').detail).toContain('requires authentication');
    expect(formatReport({ routes: [report] })).toMatch(/route default\n {2}check +status +detail\n {2}ims_token +ok +IMS issued a token/);
    // The calls carry the route's sandbox, org and client id, on the route's own token.
    expect(platform.requests.every((r) => r.sandbox === 'prod' && r.orgId === AEP.orgId && r.apiKey === ims.clientId)).toBe(true);
  });
});

describe('each check failing', () => {
  it('ims_token: IMS refuses the credential; the rest is skipped', async () => {
    ims.setFailure({ kind: 'invalid_client' });
    const report = await run();
    expect(check(report, 'ims_token')).toMatchObject({ status: 'fail', detail: expect.stringContaining('invalid_client') });
    expect(report.checks.filter((c) => c.name !== 'ims_token').every((c) => c.status === 'skipped')).toBe(true);
    expect(exitCodeOf({ routes: [report] })).toBe(1);
  });

  it('sandbox: not one the credential can use', async () => {
    const report = await run({ AEP_SANDBOX_NAME: 'Dev-2' });
    expect(check(report, 'sandbox')).toMatchObject({ status: 'fail', detail: 'sandbox "dev-2" is not one the credential can use (it can use: prod)' });
  });

  it('sandbox: the credential has no Platform product profile (403027)', async () => {
    platform.setFault('/sandbox-management/', { kind: 'status', status: 403, errorCode: '403027', message: 'User region is missing' });
    const report = await run();
    expect(check(report, 'sandbox')).toMatchObject({ status: 'fail', fix: expect.stringContaining('product profile') });
  });

  it('sandbox: without ADOBE_ORG_ID the Platform APIs cannot be called', async () => {
    const report = await run({ ADOBE_ORG_ID: '' });
    expect(check(report, 'sandbox')).toMatchObject({ status: 'fail', fix: expect.stringContaining('ADOBE_ORG_ID') });
  });

  it('inlet: no connection behind AEP_INLET_URL; a disabled one; one without authentication warns', async () => {
    sandbox.connections[0]!.auth.params.inletId = 'another-inlet';
    sandbox.connections[0]!.auth.params.inletUrl = 'https://dcs.adobedc.net/collection/another-inlet';
    expect(check(await run(), 'inlet')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no HTTP API streaming connection with inlet test-inlet') });
    sandbox.connections[0] = { ...wellSetUpSandbox({ inletUrl: dcs.inletUrl() }).connections[0]!, state: 'disabled' };
    expect(check(await run(), 'inlet')).toMatchObject({ status: 'fail', detail: expect.stringContaining('is disabled') });
    sandbox.connections[0]!.state = 'enabled';
    sandbox.connections[0]!.auth.params.authenticationRequired = false;
    expect(check(await run(), 'inlet')).toMatchObject({ status: 'warn', detail: expect.stringContaining('without authentication') });
  });

  it('event_dataset: unknown (404), or built on another schema', async () => {
    const dataset = sandbox.datasets[AEP.event.datasetId]!;
    delete sandbox.datasets[AEP.event.datasetId];
    expect(check(await run(), 'event_dataset')).toMatchObject({ status: 'fail', detail: expect.stringContaining('not found') });
    sandbox.datasets[AEP.event.datasetId] = { ...dataset, schemaRef: { ...dataset.schemaRef, id: 'https://ns.adobe.com/acmecorp/schemas/other' } };
    expect(check(await run(), 'event_dataset')).toMatchObject({ status: 'fail', fix: 'set AEP_EVENT_SCHEMA_ID=https://ns.adobe.com/acmecorp/schemas/other, or AEP_EVENT_DATASET_ID to a dataset of that schema' });
  });

  it('profile_dataset: not enabled for Profile (tags read loosely)', async () => {
    sandbox.datasets[AEP.profile.datasetId]!.tags = { unifiedProfile: ['enabled:false'] };
    expect(check(await run(), 'profile_dataset')).toMatchObject({ status: 'fail', detail: expect.stringContaining('never reach a profile') });
    sandbox.datasets[AEP.profile.datasetId]!.tags = { unifiedProfile: ['enabled: true'] };
    expect(check(await run(), 'profile_dataset').status).toBe('ok');
  });

  it('event_schema: unknown, or of the wrong class', async () => {
    sandbox.schemas = sandbox.schemas.filter((s) => s.$id !== AEP.event.schemaId);
    const missing = await run();
    expect(check(missing, 'event_schema')).toMatchObject({ status: 'fail', detail: expect.stringContaining('not found') });
    expect(check(missing, 'field_coverage').status).toBe('skipped');
    sandbox.schemas.push({ ...resolvedSchema('event'), 'meta:class': 'https://ns.adobe.com/xdm/context/profile' });
    expect(check(await run(), 'event_schema')).toMatchObject({ status: 'fail', detail: expect.stringContaining('has class https://ns.adobe.com/xdm/context/profile') });
  });

  it('profile_schema: not enabled for Profile (no union tag)', async () => {
    sandbox.schemas = [resolvedSchema('event'), resolvedSchema('profile', { profileEnabled: false })];
    expect(check(await run(), 'profile_schema')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no "union" tag') });
  });

  it("tenant: AEP_TENANT_ID is not the sandbox's", async () => {
    sandbox.tenantId = 'othercorp';
    expect(check(await run(), 'tenant')).toMatchObject({ status: 'fail', fix: 'set AEP_TENANT_ID=othercorp' });
  });

  it('identity_namespaces: CapillaryId does not exist', async () => {
    sandbox.namespaces = sandbox.namespaces.filter((n) => n.code !== 'CapillaryId');
    expect(check(await run(), 'identity_namespaces')).toMatchObject({ status: 'fail', detail: 'namespaces the mapping uses are missing from the sandbox: CapillaryId' });
  });

  it('field_coverage: the event schema lacks the tenant field group; the path is named', async () => {
    sandbox.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    const report = await run();
    expect(check(report, 'field_coverage')).toMatchObject({ status: 'fail', detail: expect.stringContaining('the event schema lacks 1 field the mapping writes: _acmecorp') });
    expect(exitCodeOf({ routes: [report] })).toBe(1);
    expect(formatReport({ routes: [report] })).toMatch(/field_coverage +FAIL +the event schema lacks[^\n]*\n +fix: add the missing field groups/);
  });

  it('field_coverage: a Loyalty field group older than the mapping (new Loyalty Details fields missing)', async () => {
    const profile = resolvedSchema('profile');
    const loyalty = (profile.properties as Record<string, { properties: Record<string, unknown> }>).loyalty!;
    const olderLoyalty = Object.fromEntries(Object.entries(loyalty.properties).filter(([field]) => !LOYALTY_FIELDS_ADDED_2025_2026.includes(field)));
    (profile.properties as Record<string, unknown>).loyalty = { ...loyalty, properties: olderLoyalty };
    sandbox.schemas = [resolvedSchema('event'), profile];
    const report = await run();
    expect(check(report, 'field_coverage')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/the profile schema lacks \d+ fields the mapping writes: .*loyalty\.lifetimePoints/) });
    // The legacy setting leaves the new fields out: the same schema then fits.
    expect(check(await run({ XDM_LEGACY_LOYALTY_SCHEMA: 'true' }), 'field_coverage').status).toBe('ok');
  });

  it('a permission missing (403 on the Schema Registry) warns, skips field_coverage, and says messages fall back to the standard schemas', async () => {
    platform.setFault('/schemaregistry/', { kind: 'status', status: 403, errorCode: '403000' , message: 'denied' });
    const report = await run();
    expect(statuses(report)).toMatchObject({ event_schema: 'warn', profile_schema: 'warn', tenant: 'warn', field_coverage: 'skipped', schema_validation: 'warn' });
    expect(check(report, 'schema_validation').detail).toContain('standard XDM schemas');
    expect(exitCodeOf({ routes: [report] })).toBe(0);
  });

  it('Platform slow: the checks time out and warn instead of hanging', async () => {
    platform.setFault('/catalog/', { kind: 'slow', delayMs: 1_500 });
    const report = await run({}, 200);
    expect(check(report, 'event_dataset')).toMatchObject({ status: 'warn', detail: expect.stringContaining('no answer within 200 ms') });
  });
});

describe('routes the checks do not apply to', () => {
  it('a dry-run route skips everything and says so', async () => {
    const route = loadConfig({ CAPILLARY_AUTH_DISABLED: 'true' }).routes[0]!;
    const report = await checkRoute({ route, platform: routePlatform({ route, tokens: undefined, dispatcher, timeoutMs: 1_000, logger: logs.logger }) });
    expect(report.checks.every((c) => c.status === 'skipped' && c.detail.startsWith('dry-run route'))).toBe(true);
  });

  it('a raw route checks access and the inlet, and skips the XDM checks', async () => {
    const report = await run({ AEP_OUTPUT: 'raw' });
    expect(statuses(report)).toMatchObject({ ims_token: 'ok', sandbox: 'ok', inlet: 'ok', event_schema: 'skipped', field_coverage: 'skipped' });
    expect(check(report, 'field_coverage').detail).toContain('AEP_OUTPUT=raw');
  });

  it('an unauthenticated inlet skips the Platform checks, naming the settings that would enable them', async () => {
    const report = await run({ ADOBE_CLIENT_ID: '', ADOBE_CLIENT_SECRET: '' });
    expect(check(report, 'sandbox')).toMatchObject({ status: 'skipped', fix: expect.stringContaining('ADOBE_CLIENT_ID') });
    expect(check(report, 'schema_validation').status).toBe('warn');
  });
});
