/**
 * The fake Platform API's answers, per service, from one sandbox's state. Each answer has the shape
 * of its spec's response schema (test/helpers/fake-platform.test.ts checks that); error bodies follow
 * the shared notes, and where no source showed them the shape is marked "unconfirmed".
 */
import type { FakeBatch, FakeSandbox, FakeSchema } from './fake-platform-state.js';

export interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
}

interface RequestView {
  method: string;
  accept: string | undefined;
  body: unknown;
}

const REGISTRY = '/data/foundation/schemaregistry';
const CATALOG = '/data/foundation/catalog';
const EXPORT = '/data/foundation/export';
const FLOW = '/data/foundation/flowservice';

/** Problem details as the Platform services answer them (type, title, status, detail). */
const problem = (status: number, title: string, detail: string, code?: string): Reply => ({
  status,
  body: { type: `http://ns.adobe.com/aep/errors/${code ?? `${status}`}`, title, status, detail },
});

export function answerRoute(sandbox: FakeSandbox, request: RequestView, url: URL): Reply {
  const path = url.pathname;
  const q = url.searchParams;
  const get = request.method === 'GET';
  let m: RegExpExecArray | null;
  if (get && path === `${REGISTRY}/stats`) return stats(sandbox);
  if (get && (m = /^\/data\/foundation\/schemaregistry\/tenant\/schemas\/([^/]+)$/.exec(path))) return schema(sandbox, decodeURIComponent(m[1]!), request.accept);
  if (get && (m = /^\/data\/foundation\/catalog\/dataSets\/([^/]+)$/.exec(path))) {
    const dataset = sandbox.datasets[m[1]!];
    // Unconfirmed: Catalog's 404 body; problem details picked.
    return dataset ? { status: 200, body: { [m[1]!]: dataset } } : problem(404, 'Not Found', `Dataset ${m[1]} not found`, 'CAT-404');
  }
  if (get && path === `${CATALOG}/batches`) return batches(sandbox, q);
  if (get && (m = /^\/data\/foundation\/catalog\/batches\/([^/]+)$/.exec(path))) {
    const batch = sandbox.batches.find((b) => b.id === m![1]);
    return batch ? { status: 200, body: { [batch.id]: batchBody(batch) } } : problem(404, 'Not Found', `Batch ${m[1]} not found`, 'CAT-404');
  }
  if (get && (m = /^\/data\/foundation\/export\/batches\/([^/]+)\/failed$/.exec(path))) return failed(sandbox, m[1]!, q);
  if (get && path === '/data/core/idnamespace/identities') return { status: 200, body: sandbox.namespaces };
  if (get && path === `${FLOW}/connections`) return connections(sandbox, q.get('property'));
  if (get && (m = /^\/data\/foundation\/flowservice\/connections\/([^/]+)$/.exec(path))) {
    const connection = sandbox.connections.find((c) => c.id === m![1]);
    return connection ? { status: 200, body: { items: [connection] } } : problem(404, 'Not Found', `Connection ${m[1]} not found`, 'FLOW-404');
  }
  if (request.method === 'POST' && path === '/data/infrastructure/observability/insights/metrics') return metrics(sandbox, request.body);
  return problem(404, 'Not Found', `No route ${request.method} ${path}`);
}

function stats(sandbox: FakeSandbox): Reply {
  const schemas = sandbox.schemas.length;
  return {
    status: 200,
    body: {
      imsOrg: 'fake@AdobeOrg',
      tenantId: sandbox.tenantId,
      counts: { schemas, mixins: 0, datatypes: 0, classes: 0, unions: 0 },
      recentlyCreatedResources: [],
      recentlyUpdatedResources: [],
      classUsage: [],
    },
  };
}

/**
 * Accept must name a versioned XED format; only version 1 exists. `xed-full` answers the stored
 * (resolved) document; `-notext` drops titles and descriptions; plain `xed` answers it too (a fake
 * liberty: the relay never asks for the unresolved form).
 */
const ACCEPT = /^application\/vnd\.adobe\.(xed|xed-full|xed-full-notext|xed-notext)\+json\s*;\s*version=(\d+)$/i;

function schema(sandbox: FakeSandbox, id: string, accept: string | undefined): Reply {
  const found = sandbox.schemas.find((s) => s.$id === id || s['meta:altId'] === id);
  if (!found) return problem(404, 'Not Found', `Schema ${id} not found`, 'XDM-1010-404');
  const m = ACCEPT.exec(accept?.trim() ?? '');
  if (!m || m[2] !== '1') return problem(406, 'Not Acceptable', `The Accept header ${String(accept)} is not supported for this resource`, 'XDM-1021-406');
  const body = /notext/i.test(m[1]!) ? withoutText(found) : found;
  return { status: 200, body, contentType: `application/vnd.adobe.${m[1]!.toLowerCase()}+json; version=1` };
}

function withoutText(node: unknown): FakeSchema {
  const strip = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(strip);
    if (typeof n !== 'object' || n === null) return n;
    return Object.fromEntries(Object.entries(n).filter(([k]) => k !== 'title' && k !== 'description').map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, strip(pv)])) : strip(v)]));
  };
  return strip(node) as FakeSchema;
}

const batchBody = (b: FakeBatch) => {
  const { id: _id, ...rest } = b;
  return { imsOrg: 'fake@AdobeOrg', version: '1.0.0', ...rest };
};

/**
 * Catalog's batch list: filters `dataSet`, `createdAfter`, `createdBefore` (ms, exclusive), `status`;
 * `orderBy=desc:created` (default ascending by created); pages by `start` (offset) and `limit`
 * (default 20, at most 100; above is refused, unconfirmed whether Adobe clamps instead).
 */
function batches(sandbox: FakeSandbox, q: URLSearchParams): Reply {
  const limit = q.has('limit') ? Number(q.get('limit')) : 20;
  const start = q.has('start') ? Number(q.get('start')) : 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(400, 'Bad Request', 'limit must be an integer from 1 to 100', 'CAT-400');
  if (!Number.isInteger(start) || start < 0) return problem(400, 'Bad Request', 'start must be a non-negative integer', 'CAT-400');
  const num = (name: string) => (q.has(name) ? Number(q.get(name)) : undefined);
  const after = num('createdAfter');
  const before = num('createdBefore');
  const dataSet = q.get('dataSet');
  const status = q.get('status');
  const selected = sandbox.batches
    .filter((b) => (after === undefined || b.created > after) && (before === undefined || b.created < before))
    .filter((b) => !dataSet || b.relatedObjects.some((o) => o.type === 'dataSet' && o.id === dataSet))
    .filter((b) => !status || b.status === status)
    .sort((a, b) => (q.get('orderBy') === 'desc:created' ? b.created - a.created : a.created - b.created))
    .slice(start, start + limit);
  return { status: 200, body: Object.fromEntries(selected.map((b) => [b.id, batchBody(b)])) };
}

/**
 * Failed records of a batch: the file list, or with `?path=` the file itself. Unconfirmed: the
 * file's form; one JSON record a line (NDJSON) picked, each with `_validationErrors`.
 */
function failed(sandbox: FakeSandbox, batchId: string, q: URLSearchParams): Reply {
  const batch = sandbox.batches.find((b) => b.id === batchId);
  if (!batch) return problem(404, 'Not Found', `Batch ${batchId} not found`, 'DAS-404');
  const files = sandbox.failedFiles[batchId] ?? [];
  const path = q.get('path');
  if (path !== null) {
    const file = files.find((f) => f.name === path);
    if (!file) return problem(404, 'Not Found', `File ${path} not found in batch ${batchId}`, 'DAS-404');
    return { status: 200, body: file.records.map((r) => JSON.stringify(r)).join('\n') + '\n', contentType: 'application/json' };
  }
  const data = files.map((f) => {
    const length = Buffer.byteLength(f.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return { name: f.name, length: String(length), _links: { self: { href: `https://platform.adobe.io${EXPORT}/batches/${batchId}/failed?path=${encodeURIComponent(f.name)}` } } };
  });
  return { status: 200, body: { data, _page: { limit: 100, count: data.length } } };
}

/** `property=a.b==value` (one clause, as the inlet lookup uses); several are joined with `,` in Adobe's API. */
function connections(sandbox: FakeSandbox, property: string | null): Reply {
  const clauses = (property ?? '').split(',').filter(Boolean).map((c) => c.split('=='));
  const valueAt = (o: unknown, dotted: string) => dotted.split('.').reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), o);
  const items = sandbox.connections.filter((c) => clauses.every(([key, value]) => String(valueAt(c, key ?? '')) === value));
  return { status: 200, body: { items } };
}

/**
 * Observability Insights: per requested metric, the series whose labels match the filters (a
 * filter's value may list ids with `|`); grouped by the filters with `groupBy`, else summed into one
 * datapoint with an empty `groupBy`. Filter name `dataSets` (the field table) and `dataSetId` (the
 * example) both accepted. Points outside [start, end) are left out.
 */
function metrics(sandbox: FakeSandbox, body: unknown): Reply {
  const b = body as { start?: unknown; end?: unknown; granularity?: unknown; metrics?: unknown } | undefined;
  const start = typeof b?.start === 'string' ? Date.parse(b.start) : NaN;
  const end = typeof b?.end === 'string' ? Date.parse(b.end) : NaN;
  const insightError = (code: string, title: string) => ({ status: 400, body: { errorCode: code, httpStatus: 400, title, details: title } });
  if (Number.isNaN(start) || Number.isNaN(end) || !Array.isArray(b?.metrics)) return insightError('INSGHT-1000-400', 'start, end and metrics are required');
  const granularity = typeof b.granularity === 'string' ? b.granularity.toUpperCase() : 'DAY';
  const metricResponses = (b.metrics as Array<{ name?: unknown; filters?: Array<{ name: string; value: string; groupBy?: boolean }> }>).map((asked) => {
    if (typeof asked.name !== 'string') return undefined;
    const filters = (asked.filters ?? []).map((f) => ({ ...f, label: f.name === 'dataSets' ? 'dataSetId' : f.name }));
    const series = sandbox.metrics.filter((s) => s.metric === asked.name && filters.every((f) => f.value.split('|').includes(s.labels[f.label] ?? '')));
    const groups = new Map<string, { groupBy: Record<string, string>; dps: Record<string, number> }>();
    for (const s of series) {
      const groupBy = Object.fromEntries(filters.filter((f) => f.groupBy).map((f) => [f.name, s.labels[f.label] ?? '']));
      const key = JSON.stringify(groupBy);
      const group = groups.get(key) ?? { groupBy, dps: {} };
      for (const [at, value] of Object.entries(s.dps)) {
        const t = Date.parse(at);
        if (t >= start && t < end) group.dps[at] = (group.dps[at] ?? 0) + value;
      }
      groups.set(key, group);
    }
    return { metric: asked.name, filters: asked.filters ?? [], datapoints: [...groups.values()], granularity };
  });
  if (metricResponses.some((r) => r === undefined)) return insightError('INSGHT-1001-400', 'every metric needs a name');
  return { status: 200, body: { metricResponses } };
}
