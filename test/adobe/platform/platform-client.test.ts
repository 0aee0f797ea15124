import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createDispatcher } from '../../../src/adobe/dispatcher.js';
import { createImsTokenProvider, type TokenProvider } from '../../../src/adobe/ims-token-provider.js';
import { createPlatformClient, PLATFORM_PATHS, PlatformApiError, readAdobeError, XED_FULL, type PlatformClient } from '../../../src/adobe/platform/platform-client.js';
import { createMetrics } from '../../../src/metrics.js';
import { captureLogger } from '../../helpers/build-app.js';
import { startFakeIms, type FakeIms } from '../../helpers/fake-adobe.js';
import { emptySandbox, startFakePlatform, type FakePlatform } from '../../helpers/fake-platform.js';

const ORG = 'ABC123@AdobeOrg';
const SCHEMA_ID = 'https://ns.adobe.com/acmecorp/schemas/event-1';

let ims: FakeIms;
let platform: FakePlatform;
let dispatcher: Agent;
let tokens: TokenProvider;
let logs: ReturnType<typeof captureLogger>;

beforeEach(async () => {
  ims = await startFakeIms();
  const sandbox = emptySandbox('dev-1');
  sandbox.schemas.push({ $id: SCHEMA_ID, 'meta:altId': '_acmecorp.schemas.event-1', 'meta:class': 'https://ns.adobe.com/xdm/context/experienceevent', title: 'Events', type: 'object', properties: {} });
  platform = await startFakePlatform({ ims, orgId: ORG, sandboxes: [emptySandbox('prod'), sandbox] });
  dispatcher = createDispatcher();
  logs = captureLogger();
  tokens = createImsTokenProvider({ imsUrl: ims.urls.v3, clientId: ims.clientId, clientSecret: ims.clientSecret, scopes: 'openid', dispatcher, logger: logs.logger, metrics: createMetrics({ defaultMetrics: false }), retryBaseMs: 5, retryMaxMs: 20 });
});

afterEach(async () => {
  // Nothing logged may carry a token IMS issued or the secret.
  const all = logs.lines.join('\n');
  for (const t of ims.issuedTokens) expect(all).not.toContain(t);
  expect(all).not.toContain(ims.clientSecret);
  await tokens.close();
  await dispatcher.close();
  await platform.close();
  await ims.close();
});

function client(overrides: { sandboxName?: string; timeoutMs?: number } = {}): PlatformClient {
  return createPlatformClient({ baseUrl: `${platform.origin}/`, sandboxName: overrides.sandboxName ?? 'Dev-1', clientId: ims.clientId, orgId: ORG, tokens, dispatcher, timeoutMs: overrides.timeoutMs ?? 2_000, logger: logs.logger });
}

async function failure(p: Promise<unknown>): Promise<PlatformApiError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(PlatformApiError);
  const e = error as PlatformApiError;
  // Never a token or the secret in what an error says.
  for (const t of ims.issuedTokens) expect(`${e.message} ${JSON.stringify(e.context)}`).not.toContain(t);
  return e;
}

describe('Platform API client', () => {
  it('sends the common headers, the sandbox in lower case, and reads a schema by its URL-encoded $id', async () => {
    const schema = await client().get<{ $id: string }>(`${PLATFORM_PATHS.schemaRegistry}/tenant/schemas/${encodeURIComponent(SCHEMA_ID)}`, { accept: XED_FULL });
    expect(schema.$id).toBe(SCHEMA_ID);
    const [request] = platform.requests;
    expect(request).toMatchObject({ sandbox: 'dev-1', apiKey: ims.clientId, orgId: ORG, accept: XED_FULL, token: ims.issuedTokens[0], outcome: 200 });
    expect(request!.contentType).toBeUndefined();
  });

  it('posts JSON with a content type and passes query parameters', async () => {
    await client().post(`${PLATFORM_PATHS.insights}/metrics`, { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', granularity: 'day', metrics: [] });
    await client().get(`${PLATFORM_PATHS.catalog}/batches`, { query: { dataSet: 'ds1', limit: 5, start: undefined } });
    expect(platform.requests[0]).toMatchObject({ method: 'POST', contentType: 'application/json', outcome: 200 });
    expect(platform.requests[1]!.query).toEqual({ dataSet: 'ds1', limit: '5' });
  });

  it('answers text as is for failed-record files', async () => {
    const sandbox = platform.sandbox('dev-1');
    sandbox.batches.push({ id: 'b1', status: 'success', created: 1, relatedObjects: [{ type: 'dataSet', id: 'ds1' }] });
    sandbox.failedFiles.b1 = [{ name: 'part-0.json', records: [{ a: 1, _validationErrors: [] }, { a: 2, _validationErrors: [] }] }];
    const text = await client().getText(`${PLATFORM_PATHS.dataAccess}/batches/b1/failed`, { query: { path: 'part-0.json' } });
    expect(text.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toHaveLength(2);
  });

  it('404: PLATFORM_NOT_FOUND with the status', async () => {
    const e = await failure(client().get(`${PLATFORM_PATHS.catalog}/dataSets/nope`));
    expect(e).toMatchObject({ code: 'PLATFORM_NOT_FOUND', status: 404, method: 'GET', path: `${PLATFORM_PATHS.catalog}/dataSets/nope` });
  });

  it('406: an Accept without a version is refused', async () => {
    const e = await failure(client().get(`${PLATFORM_PATHS.schemaRegistry}/tenant/schemas/${encodeURIComponent(SCHEMA_ID)}`, { accept: 'application/vnd.adobe.xed-full+json' }));
    expect(e).toMatchObject({ code: 'PLATFORM_NOT_ACCEPTABLE', status: 406 });
  });

  it("403 carries Adobe's error_code and message, and is not retried with a new token", async () => {
    platform.setFault('/idnamespace/', { kind: 'status', status: 403, errorCode: '403027', message: 'User region is missing' });
    const e = await failure(client().get(`${PLATFORM_PATHS.identity}/identities`));
    expect(e).toMatchObject({ code: 'PLATFORM_FORBIDDEN', status: 403, errorCode: '403027' });
    expect(e.message).toContain('User region is missing');
    expect(ims.mints).toBe(1);
    expect(platform.requests).toHaveLength(1);
  });

  it('401 (a revoked token): invalidates it, mints once, retries once', async () => {
    const c = client();
    await c.get(`${PLATFORM_PATHS.identity}/identities`);
    ims.revokeTokens();
    const namespaces = await c.get<unknown[]>(`${PLATFORM_PATHS.identity}/identities`);
    expect(namespaces.length).toBeGreaterThan(0);
    expect(ims.mints).toBe(2);
    expect(platform.requests.map((r) => r.outcome)).toEqual([200, 401, 200]);
  });

  it('401 again after a fresh token: PLATFORM_UNAUTHORIZED after exactly one retry', async () => {
    platform.setFault('/idnamespace/', { kind: 'status', status: 401, errorCode: '401013', message: 'Oauth token is not valid' });
    const e = await failure(client().get(`${PLATFORM_PATHS.identity}/identities`));
    expect(e).toMatchObject({ code: 'PLATFORM_UNAUTHORIZED', status: 401, errorCode: '401013' });
    expect(platform.requests).toHaveLength(2);
    expect(ims.mints).toBe(2);
  });

  it('the gateway refuses a call without an org header as Adobe does (400003)', async () => {
    const bare = createPlatformClient({ baseUrl: platform.origin, sandboxName: 'prod', clientId: ims.clientId, orgId: '', tokens, dispatcher, timeoutMs: 2_000, logger: logs.logger });
    const e = await failure(bare.get(`${PLATFORM_PATHS.identity}/identities`));
    expect(e).toMatchObject({ code: 'PLATFORM_BAD_REQUEST', status: 400, errorCode: '400003' });
  });

  it('a slow answer times out: PLATFORM_TIMEOUT', async () => {
    platform.setFault('/stats', { kind: 'slow', delayMs: 1_000 });
    const e = await failure(client({ timeoutMs: 100 }).get(`${PLATFORM_PATHS.schemaRegistry}/stats`));
    expect(e.code).toBe('PLATFORM_TIMEOUT');
  });

  it("the caller's signal aborts the call: PLATFORM_ABORTED", async () => {
    platform.setFault('/stats', { kind: 'hold' });
    const abort = new AbortController();
    const pending = client().get(`${PLATFORM_PATHS.schemaRegistry}/stats`, { signal: abort.signal });
    await platform.waitFor((p) => p.requests.some((r) => r.outcome === 'held'));
    abort.abort();
    expect((await failure(pending)).code).toBe('PLATFORM_ABORTED');
  });

  it('Platform down: PLATFORM_UNAVAILABLE; a 5xx too', async () => {
    platform.setFault('/stats', { kind: 'status', status: 503 });
    expect((await failure(client().get(`${PLATFORM_PATHS.schemaRegistry}/stats`))).code).toBe('PLATFORM_UNAVAILABLE');
    await platform.outage();
    expect((await failure(client().get(`${PLATFORM_PATHS.schemaRegistry}/stats`))).code).toBe('PLATFORM_UNAVAILABLE');
    await platform.restore();
  });

  it('no IMS token: PLATFORM_NO_TOKEN, naming the IMS error code', async () => {
    ims.setFailure({ kind: 'invalid_client' });
    const e = await failure(client().get(`${PLATFORM_PATHS.schemaRegistry}/stats`));
    expect(e.code).toBe('PLATFORM_NO_TOKEN');
    expect(e.message).toContain('IMS_REJECTED');
    expect(platform.requests).toHaveLength(0);
  });
});

describe("reading Adobe's error bodies", () => {
  it.each([
    ['gateway', '{"error_code":"403010","message":"Oauth token is missing."}', { errorCode: '403010', message: 'Oauth token is missing.' }],
    ['Observability', '{"errorCode":"INSGHT-1001-400","httpStatus":400,"title":"Bad request","details":"metric unknown"}', { errorCode: 'INSGHT-1001-400', message: 'Bad request: metric unknown' }],
    ['problem details', '{"type":"x","title":"Not Found","status":404,"detail":"Schema not found"}', { message: 'Not Found: Schema not found' }],
    ['Identity error chain', '{"title":"Forbidden","errorChain":[{"errorCode":"IDSVC-4031","errorMessage":"no access"}]}', { errorCode: 'IDSVC-4031', message: 'Forbidden: no access' }],
    ['plain text', 'upstream connect error', { message: 'upstream connect error' }],
    ['an HTML page', '<html><body>502</body></html>', {}],
    ['nothing', '', {}],
  ])('%s', (_name, text, expected) => {
    expect(readAdobeError(text)).toEqual(expected);
  });

  it('caps long text', () => {
    expect(readAdobeError(JSON.stringify({ message: 'x'.repeat(5_000) })).message!.length).toBeLessThan(400);
  });
});
