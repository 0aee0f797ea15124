/**
 * What the fake Platform API holds for one sandbox: the test sets it (and changes it mid-test, e.g. to
 * fix a schema), the server answers from it. Shapes follow Adobe's specs (test/fixtures/adobe-api-specs)
 * and the shared notes (/work/shared/reference/adobe-platform-apis.md); values are the test's.
 */

/** A resolved schema (`xed-full+json; version=1`): `$id`, `meta:altId`, `meta:class`, `properties`... */
export type FakeSchema = Record<string, unknown> & { $id: string; 'meta:altId'?: string };

export interface FakeDataset {
  name: string;
  schemaRef: { id: string; contentType: string };
  /** Catalog tags, e.g. `{ unifiedProfile: ['enabled:true'] }`. */
  tags?: Record<string, string[]>;
  [key: string]: unknown;
}

/** An identity namespace as `/idnamespace/identities` lists it (`idType` one of the spec's enum). */
export interface FakeNamespace {
  code: string;
  id: number;
  name: string;
  idType: string;
  status: string;
  custom: boolean;
  description?: string;
}

/** A Flow Service base connection (the HTTP API streaming connection behind an inlet). */
export interface FakeConnection {
  id: string;
  name: string;
  state: 'enabled' | 'disabled' | string;
  connectionSpec: { id: string; version: string };
  auth: { specName?: string; params: { inletUrl?: string; inletId?: string; authenticationRequired?: boolean; dataType?: string; [key: string]: unknown } };
  [key: string]: unknown;
}

/** A Catalog batch; `relatedObjects` names its dataset. */
export interface FakeBatch {
  id: string;
  status: string;
  created: number;
  completed?: number;
  updated?: number;
  recordCount?: number;
  failedRecordCount?: number;
  errors?: Array<{ code: string; description?: string; rows?: string[] }>;
  relatedObjects: Array<{ type: string; id: string }>;
  [key: string]: unknown;
}

/** A failed-record file of a batch, and the records it holds (each with `_validationErrors`). */
export interface FakeFailedFile {
  name: string;
  records: Array<Record<string, unknown>>;
}

/** One series of an Observability metric: which filter values it belongs to, and its points. */
export interface FakeMetricSeries {
  metric: string;
  /** e.g. `{ dataSetId: '5f0c...' }` or `{ inletId: '...' }`. */
  labels: Record<string, string>;
  /** ISO time -> value. */
  dps: Record<string, number>;
}

export interface FakeSandbox {
  name: string;
  title: string;
  type: 'production' | 'development';
  region: string;
  isDefault: boolean;
  /** Listed for the credential (`GET /sandbox-management/`); false hides it as a missing role would. */
  listed: boolean;
  tenantId: string;
  schemas: FakeSchema[];
  datasets: Record<string, FakeDataset>;
  namespaces: FakeNamespace[];
  connections: FakeConnection[];
  batches: FakeBatch[];
  failedFiles: Record<string, FakeFailedFile[]>;
  metrics: FakeMetricSeries[];
}

/** The HTTP API streaming source (Adobe's connection spec id for it). */
export const HTTP_API_CONNECTION_SPEC = 'bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb';

/** Adobe's standard namespaces a sandbox starts with (codes as Adobe spells them; Phone unconfirmed). */
export function standardNamespaces(): FakeNamespace[] {
  return [
    { code: 'ECID', id: 4, name: 'ECID', idType: 'COOKIE', status: 'ACTIVE', custom: false },
    { code: 'Email', id: 6, name: 'Email', idType: 'Email', status: 'ACTIVE', custom: false },
    { code: 'Phone', id: 7, name: 'Phone', idType: 'Phone', status: 'ACTIVE', custom: false },
  ];
}

export function customNamespace(code: string, id: number): FakeNamespace {
  return { code, id, name: code, idType: 'CROSS_DEVICE', status: 'ACTIVE', custom: true, description: `${code} (test)` };
}

export function httpApiConnection(inletUrl: string, options: { id?: string; state?: string; authenticationRequired?: boolean } = {}): FakeConnection {
  const inletId = new URL(inletUrl).pathname.split('/').filter(Boolean).pop() ?? '';
  return {
    id: options.id ?? `conn-${inletId}`,
    name: 'Capillary relay inlet',
    state: options.state ?? 'enabled',
    connectionSpec: { id: HTTP_API_CONNECTION_SPEC, version: '1.0' },
    auth: { specName: 'Streaming Connection', params: { inletUrl, inletId, authenticationRequired: options.authenticationRequired ?? true, dataType: 'xdm' } },
  };
}

export function emptySandbox(name = 'prod', tenantId = 'acmecorp'): FakeSandbox {
  return {
    name,
    title: name === 'prod' ? 'Production' : name,
    type: name === 'prod' ? 'production' : 'development',
    region: 'VA7',
    isDefault: name === 'prod',
    listed: true,
    tenantId,
    schemas: [],
    datasets: {},
    namespaces: standardNamespaces(),
    connections: [],
    batches: [],
    failedFiles: {},
    metrics: [],
  };
}
