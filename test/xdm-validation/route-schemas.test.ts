import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../../src/adobe/ims-token-provider.js';
import { createPlatformClient } from '../../src/adobe/platform/platform-client.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { createRouteSchemas, type RouteSchemas } from '../../src/xdm-validation/route-schemas.js';
import { AEP } from '../helpers/aep-relay.js';
import { captureLogger } from '../helpers/build-app.js';
import { startFakeIms, type FakeIms } from '../helpers/fake-adobe.js';
import { startFakePlatform, type FakePlatform, type FakeSandbox } from '../helpers/fake-platform.js';
import { metricValue } from '../helpers/metric-values.js';
import { resolvedSchema, wellSetUpSandbox } from '../helpers/platform-sandbox.js';

let ims: FakeIms;
let platform: FakePlatform;
let sandbox: FakeSandbox;
let dispatcher: Agent;
let tokens: TokenProvider;
let metrics: Metrics;
let logs: ReturnType<typeof captureLogger>;
let schemas: RouteSchemas | undefined;

beforeEach(async () => {
  ims = await startFakeIms();
  sandbox = wellSetUpSandbox({ inletUrl: 'https://dcs.adobedc.net/collection/test-inlet' });
  platform = await startFakePlatform({ ims, orgId: AEP.orgId, sandboxes: [sandbox] });
  dispatcher = createDispatcher();
  metrics = createMetrics({ defaultMetrics: false });
  logs = captureLogger();
  tokens = createImsTokenProvider({ imsUrl: ims.urls.v3, clientId: ims.clientId, clientSecret: ims.clientSecret, scopes: 'openid', dispatcher, logger: logs.logger, metrics });
});

afterEach(async () => {
  schemas?.close();
  schemas = undefined;
  await tokens.close();
  await dispatcher.close();
  await platform.close();
  await ims.close();
});

function create(timeoutMs = 2_000): RouteSchemas {
  const client = createPlatformClient({ baseUrl: platform.origin, sandboxName: 'prod', clientId: ims.clientId, orgId: AEP.orgId, tokens, dispatcher, timeoutMs, logger: logs.logger });
  schemas = createRouteSchemas({ route: 'brand-a', schemaIds: { event: AEP.event.schemaId, profile: AEP.profile.schemaId }, client, refreshMs: 60_000, metrics, logger: logs.logger });
  return schemas;
}

const compiledLines = () => logs.lines.filter((l) => l.includes("customer's schema read and compiled")).length;
const tenantEvent = { _id: 'e1', timestamp: '2026-01-01T00:00:00Z', _acmecorp: { capillary: { eventName: 'pointsIssued' } } };

describe("a route's schemas", () => {
  it('before any read, and without a client, the standard schemas hold (gauge 0)', async () => {
    const standard = createRouteSchemas({ route: 'brand-a', schemaIds: { event: AEP.event.schemaId }, client: undefined, unavailable: 'no credentials', refreshMs: 60_000, metrics, logger: logs.logger });
    standard.start();
    await standard.ready();
    expect(standard.status()).toEqual([{ kind: 'event', schemaId: AEP.event.schemaId, source: 'standard', fetchedAt: null, lastError: 'no credentials', unchecked: [] }]);
    expect(await metricValue(metrics.registry, 'relay_schema_source', { route: 'brand-a', kind: 'event' })).toBe(0);
    // The standard event schema takes any tenant object.
    expect(standard.check('event', tenantEvent)).toBeUndefined();
    standard.close();
  });

  it("reads the customer's schemas at start (gauge 1) and compiles each version once", async () => {
    const s = create();
    s.start();
    await s.ready();
    expect(s.status().map((k) => k.source)).toEqual(['customer', 'customer']);
    expect(await metricValue(metrics.registry, 'relay_schema_source', { route: 'brand-a' })).toBe(2);
    expect(compiledLines()).toBe(2);
    await s.refresh();
    expect(compiledLines()).toBe(2);
    sandbox.schemas = [resolvedSchema('event', { withTenantFieldGroup: false }), resolvedSchema('profile')];
    await s.refresh();
    expect(compiledLines()).toBe(3);
    expect(s.check('event', tenantEvent)).toMatchObject({ paths: ['/_acmecorp'], source: 'customer', schemaId: AEP.event.schemaId });
  });

  it('concurrent refreshes share one read', async () => {
    const s = create();
    await Promise.all([s.refresh(), s.refresh(), s.refresh()]);
    expect(platform.requests.filter((r) => r.path.includes('/tenant/schemas/'))).toHaveLength(2);
  });

  it('a 404 for the schema keeps the standard schema and names why', async () => {
    sandbox.schemas = [resolvedSchema('profile')];
    const s = create();
    const [event, profile] = await s.refresh();
    expect(event).toMatchObject({ source: 'standard', lastError: expect.stringContaining('HTTP 404') });
    expect(profile!.source).toBe('customer');
  });

  it('close cuts a read Platform holds, at once', async () => {
    platform.setFault('/tenant/schemas/', { kind: 'hold' });
    const s = create(60_000);
    s.start();
    await platform.waitFor((p) => p.requests.filter((r) => r.outcome === 'held').length === 2);
    s.close();
    await s.ready();
    expect(s.status().map((k) => k.source)).toEqual(['standard', 'standard']);
  });
});
