import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeIms, type FakeIms } from './fake-adobe.js';
import { customNamespace, httpApiConnection, startFakePlatform, type FakePlatform } from './fake-platform.js';
import { checkAgainstSpec } from './spec-schemas.js';

/**
 * The fake Platform API answers what Adobe's specs say its services answer: each answer is checked
 * against the response schema of its operation in test/fixtures/adobe-api-specs, and against keys
 * the spec does not declare. The few keys Adobe's answers carry beyond the spec (the shared notes
 * show them) are named here, each with where it is seen.
 */

const ORG = 'ABC123@AdobeOrg';
const SCHEMA_ID = 'https://ns.adobe.com/acmecorp/schemas/event-1';
let ims: FakeIms;
let platform: FakePlatform;
let token: string;

beforeAll(async () => {
  ims = await startFakeIms();
  platform = await startFakePlatform({ ims, orgId: ORG });
  const sandbox = platform.sandbox();
  sandbox.schemas.push({
    $id: SCHEMA_ID,
    'meta:altId': '_acmecorp.schemas.event-1',
    'meta:resourceType': 'schemas',
    version: '1.0',
    title: 'Capillary events',
    type: 'object',
    description: 'Loyalty events',
    'meta:class': 'https://ns.adobe.com/xdm/context/experienceevent',
    'meta:extends': ['https://ns.adobe.com/xdm/context/experienceevent'],
    'meta:containerId': 'tenant',
    'meta:tenantNamespace': '_acmecorp',
    'meta:immutableTags': [],
    properties: { _id: { type: 'string', title: 'Identifier' } },
  });
  sandbox.datasets['ds-events'] = { name: 'Capillary events', schemaRef: { id: SCHEMA_ID, contentType: 'application/vnd.adobe.xed-full+json;version=1' }, tags: { unifiedProfile: ['enabled:false'] }, created: 1, updated: 2, imsOrg: ORG, version: '1.0.0', lastBatchId: 'b2', lastBatchStatus: 'success' };
  sandbox.namespaces.push(customNamespace('CapillaryId', 1_234_567));
  sandbox.connections.push(httpApiConnection('https://dcs.adobedc.net/collection/inlet-1'));
  sandbox.batches.push(
    { id: 'b1', status: 'success', created: 1_000, completed: 2_000, recordCount: 10, failedRecordCount: 2, errors: [{ code: '101', description: 'extraneous key' }], relatedObjects: [{ type: 'dataSet', id: 'ds-events' }] },
    { id: 'b2', status: 'failed', created: 3_000, relatedObjects: [{ type: 'dataSet', id: 'ds-events' }] },
  );
  sandbox.failedFiles.b1 = [{ name: 'part-0.json', records: [{ _id: 'e1', _validationErrors: [{ keyword: 'additionalProperties', message: 'extraneous key [x] is not permitted', pointerToViolation: '#/x', schemaLocation: '#' }] }] }];
  sandbox.metrics.push({ metric: 'timeseries.ingestion.dataset.recordsuccess.count', labels: { dataSetId: 'ds-events' }, dps: { '2026-01-01T00:00:00Z': 42 } });
  token = (await (await fetch(ims.urls.v3, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: ims.clientId, client_secret: ims.clientSecret }) })).json() as { access_token: string }).access_token;
});

afterAll(async () => {
  await platform.close();
  await ims.close();
});

async function call(method: string, path: string, options: { headers?: Record<string, string>; body?: unknown; sandbox?: string } = {}) {
  const res = await fetch(platform.origin + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'x-api-key': ims.clientId, 'x-gw-ims-org-id': ORG, 'x-sandbox-name': options.sandbox ?? 'prod', ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

const INLET_PARAMS = ['inletUrl', 'inletId', 'authenticationRequired', 'dataType'].map((p) => `/items/*/auth/params/${p}`);
const XED = { accept: 'application/vnd.adobe.xed-full+json; version=1' };

describe("fake Platform answers match Adobe's specs", () => {
  it.each([
    ['sandbox.yaml', 'GET', '/sandbox-management/', '/data/foundation/sandbox-management/', {}, []],
    ['schema-registry.yaml', 'GET', '/stats', '/data/foundation/schemaregistry/stats', {}, []],
    // `properties` (the fields, resolved) and `meta:immutableTags` ("union" when enabled for Profile):
    // the shared notes (Adobe's Schema Registry guide); the spec's lookup schema lists neither.
    ['schema-registry.yaml', 'GET', '/{CONTAINER_ID}/schemas/{SCHEMA_ID}', `/data/foundation/schemaregistry/tenant/schemas/${encodeURIComponent(SCHEMA_ID)}`, XED, ['/meta:immutableTags', '/properties']],
    ['catalog.yaml', 'GET', '/dataSets/{DATASET_ID}', '/data/foundation/catalog/dataSets/ds-events', {}, []],
    ['catalog.yaml', 'GET', '/batches', '/data/foundation/catalog/batches?dataSet=ds-events&orderBy=desc:created&limit=10', {}, []],
    ['catalog.yaml', 'GET', '/batches/{BATCH_ID}', '/data/foundation/catalog/batches/b1', {}, []],
    ['data-access.yaml', 'GET', '/batches/{batchId}/failed', '/data/foundation/export/batches/b1/failed', {}, []],
    ['identity-service.yaml', 'GET', '/idnamespace/identities', '/data/core/idnamespace/identities', {}, []],
    // auth.params of the HTTP API connection: the shared notes (Adobe's HTTP API source guide); the spec lists other sources' params.
    ['flow-service.yaml', 'GET', '/connections/{BASE_CONNECTION_ID}', '/data/foundation/flowservice/connections/conn-inlet-1', {}, INLET_PARAMS],
    ['flow-service.yaml', 'GET', '/connections', `/data/foundation/flowservice/connections?property=${encodeURIComponent('connectionSpec.id==bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb')}`, {}, INLET_PARAMS],
  ] as const)('%s %s %s', async (file, method, specPath, path, headers, known) => {
    const answer = await call(method, path, { headers });
    expect(answer.status, answer.text).toBe(200);
    const verdict = checkAgainstSpec(file, method, specPath, answer.json, { known: [...known] });
    expect(verdict).toEqual({ errors: [], undeclared: [] });
  });

  it('observability-insights.yaml POST /metrics', async () => {
    const body = { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', granularity: 'day', metrics: [{ name: 'timeseries.ingestion.dataset.recordsuccess.count', filters: [{ name: 'dataSetId', value: 'ds-events|other', groupBy: true }], aggregator: 'sum', downsample: 'sum' }] };
    const answer = await call('POST', '/data/infrastructure/observability/insights/metrics', { body });
    expect(answer.status, answer.text).toBe(200);
    // The spec's schema says `name` and `datasetID` where its own example (and the shared notes) say `metric` and `dataSetId`.
    const known = ['/metricResponses/*/metric', '/metricResponses/*/datapoints/*/groupBy/dataSetId'];
    expect(checkAgainstSpec('observability-insights.yaml', 'POST', '/metrics', answer.json, { known })).toEqual({ errors: [], undeclared: [] });
    expect(answer.json).toMatchObject({ metricResponses: [{ datapoints: [{ groupBy: { dataSetId: 'ds-events' }, dps: { '2026-01-01T00:00:00Z': 42 } }], granularity: 'DAY' }] });
  });

  it('the spec check does catch drift: a wrong type and an invented key', () => {
    const verdict = checkAgainstSpec('data-access.yaml', 'GET', '/batches/{batchId}/failed', { data: [{ name: 'a', length: 12, invented: true }] });
    expect(verdict.errors.join()).toContain('/data/0/length');
    expect(verdict.undeclared).toEqual(['/data/0/invented']);
  });
});

describe('fake Platform errors', () => {
  it('gateway: 403010 without a token, 401013 for an unknown one, 403003 for a wrong API key', async () => {
    expect((await call('GET', '/data/core/idnamespace/identities', { headers: { authorization: '' } })).json).toEqual({ error_code: '403010', message: 'Oauth token is missing.' });
    expect(await call('GET', '/data/core/idnamespace/identities', { headers: { authorization: 'Bearer forged' } })).toMatchObject({ status: 401, json: { error_code: '401013' } });
    expect(await call('GET', '/data/core/idnamespace/identities', { headers: { 'x-api-key': 'other' } })).toMatchObject({ status: 403, json: { error_code: '403003' } });
  });

  it('schema: 404 unknown, 406 for an Accept without version 1, found by meta:altId too', async () => {
    expect((await call('GET', '/data/foundation/schemaregistry/tenant/schemas/nope', { headers: XED })).status).toBe(404);
    expect((await call('GET', `/data/foundation/schemaregistry/tenant/schemas/${encodeURIComponent(SCHEMA_ID)}`, { headers: { accept: 'application/vnd.adobe.xed-full+json; version=2' } })).status).toBe(406);
    expect((await call('GET', `/data/foundation/schemaregistry/tenant/schemas/${encodeURIComponent(SCHEMA_ID)}`, { headers: { accept: 'application/json' } })).status).toBe(406);
    const byAltId = await call('GET', '/data/foundation/schemaregistry/tenant/schemas/_acmecorp.schemas.event-1', { headers: XED });
    expect(byAltId).toMatchObject({ status: 200, json: { $id: SCHEMA_ID } });
  });

  it('an unknown sandbox is refused; faults answer 403 with an error_code, then clear', async () => {
    expect((await call('GET', '/data/core/idnamespace/identities', { sandbox: 'nope' })).status).toBe(403);
    platform.setFault('/catalog/', { kind: 'status', status: 403, errorCode: '403027', message: 'no product profile' }, { times: 1 });
    expect(await call('GET', '/data/foundation/catalog/dataSets/ds-events')).toMatchObject({ status: 403, json: { error_code: '403027' } });
    expect((await call('GET', '/data/foundation/catalog/dataSets/ds-events')).status).toBe(200);
  });

  it('batches: filters by time and dataset, pages by start and limit, refuses limit over 100', async () => {
    const ids = async (query: string) => Object.keys((await call('GET', `/data/foundation/catalog/batches?${query}`)).json as object);
    expect(await ids('dataSet=ds-events&orderBy=desc:created')).toEqual(['b2', 'b1']);
    expect(await ids('createdAfter=1000')).toEqual(['b2']);
    expect(await ids('createdBefore=3000')).toEqual(['b1']);
    expect(await ids('limit=1&start=1')).toEqual(['b2']);
    expect(await ids('dataSet=other')).toEqual([]);
    expect((await call('GET', '/data/foundation/catalog/batches?limit=101')).status).toBe(400);
  });

  it('failed records: ?path= answers the file, one record a line with _validationErrors', async () => {
    const file = await call('GET', '/data/foundation/export/batches/b1/failed?path=part-0.json');
    const records = file.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]!._validationErrors).toHaveLength(1);
  });

  it('records requests with their headers', () => {
    expect(platform.requests.at(-1)).toMatchObject({ method: 'GET', sandbox: 'prod', apiKey: ims.clientId, orgId: ORG, token });
  });
});
