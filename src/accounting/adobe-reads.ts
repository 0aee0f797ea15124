import { PLATFORM_PATHS, type PlatformClient } from '../adobe/platform/platform-client.js';
import { alignDown, DAY_MS, type Window } from './windows.js';

/**
 * What accounting reads of Adobe (issue 17), by the shapes of /work/shared/reference/adobe-platform-apis.md:
 * records landed per dataset and day, and the inlet's successes and failures (Observability Insights),
 * and the batches of a dataset that hold failed records, with those records (Catalog, Data Access).
 */

export const METRICS = {
  landed: 'timeseries.ingestion.dataset.recordsuccess.count',
  inletSuccess: 'timeseries.data.collection.inlet.success',
  inletFailure: 'timeseries.data.collection.inlet.failure',
} as const;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Per series key (a dataset or inlet id), per day (epoch ms of its start): the value. */
export type DailySeries = Map<string, Map<number, number>>;

export interface AdobeCounts {
  landed: DailySeries;
  inletSuccess: DailySeries;
  inletFailure: DailySeries;
}

const metric = (name: string, filter: { name: string; value: string }) => ({ name, filters: [{ ...filter, groupBy: true }], aggregator: 'sum', downsample: 'sum' });

/** One call for the whole range: the days of every dataset of the route, and of its inlet. */
export async function readAdobeCounts(platform: PlatformClient, options: { datasets: string[]; inletId: string | undefined; range: Window; signal?: AbortSignal }): Promise<AdobeCounts> {
  const { datasets, inletId, range } = options;
  const metrics = [
    // The field table names the filter `dataSets`, Adobe's example `dataSetId`: the example is what the fake and Adobe's samples answer to.
    metric(METRICS.landed, { name: 'dataSetId', value: datasets.join('|') }),
    ...(inletId ? [metric(METRICS.inletSuccess, { name: 'inletId', value: inletId }), metric(METRICS.inletFailure, { name: 'inletId', value: inletId })] : []),
  ];
  const body = { start: new Date(range.from).toISOString(), end: new Date(range.to).toISOString(), granularity: 'day', metrics };
  const answer = await platform.post<unknown>(`${PLATFORM_PATHS.insights}/metrics`, body, options.signal ? { signal: options.signal } : {});
  const responses = isRecord(answer) && Array.isArray(answer.metricResponses) ? answer.metricResponses.filter(isRecord) : [];
  const series = (name: string): DailySeries => {
    const out: DailySeries = new Map();
    for (const response of responses.filter((r) => (r.metric ?? r.name) === name)) {
      for (const point of Array.isArray(response.datapoints) ? response.datapoints.filter(isRecord) : []) {
        const groupBy = isRecord(point.groupBy) ? point.groupBy : {};
        const key = str(groupBy.dataSetId) ?? str(groupBy.dataSets) ?? str(groupBy.datasetId) ?? str(groupBy.inletId) ?? '';
        const days = out.get(key) ?? new Map<number, number>();
        for (const [at, value] of Object.entries(isRecord(point.dps) ? point.dps : {})) {
          const t = Date.parse(at);
          if (Number.isNaN(t) || typeof value !== 'number') continue;
          const day = alignDown(t, DAY_MS);
          days.set(day, (days.get(day) ?? 0) + value);
        }
        out.set(key, days);
      }
    }
    return out;
  };
  return { landed: series(METRICS.landed), inletSuccess: series(METRICS.inletSuccess), inletFailure: series(METRICS.inletFailure) };
}

/** The sum of a series' days within the window; null when Adobe has no series for `key` at all. */
export function sumIn(series: DailySeries, key: string, window: Window): number | null {
  const days = series.get(key);
  if (!days) return null;
  let sum = 0;
  for (const [day, value] of days) if (day >= window.from && day < window.to) sum += value;
  return sum;
}

export interface FailedBatch {
  id: string;
  created: number | null;
  /** When it closed (completed, else last updated, else an hour after it opened): deliveries after it are not in it. */
  closedAt: number;
  /** Catalog's count; the files may hold fewer (or none, for a batch that failed whole). */
  failedRecordCount: number;
  /** Each failed record as Adobe wrote it, `_validationErrors` included (at most the cap per window). */
  records: Json[];
}

const PAGE = 100;
/** Failed records read per dataset and window; past it, the rest are counted from Catalog only. */
export const MAX_RECORDS_PER_WINDOW = 10_000;
const FAILED = new Set(['failed', 'failure', 'aborted']);

/** Batches of `dataset` created in the window that failed, or succeeded with failed records, with their records. */
export async function readFailedBatches(platform: PlatformClient, options: { dataset: string; window: Window; signal?: AbortSignal }): Promise<FailedBatch[]> {
  const { dataset, window } = options;
  const signal = options.signal ? { signal: options.signal } : {};
  const out: FailedBatch[] = [];
  let recordsRead = 0;
  for (let start = 0; ; start += PAGE) {
    const page = await platform.get<unknown>(`${PLATFORM_PATHS.catalog}/batches`, {
      // createdAfter/createdBefore are exclusive bounds (Catalog's reference).
      query: { dataSet: dataset, createdAfter: window.from - 1, createdBefore: window.to, orderBy: 'asc:created', limit: PAGE, start },
      ...signal,
    });
    const batches = isRecord(page) ? Object.entries(page).filter((e): e is [string, Json] => isRecord(e[1]) && !e[0].startsWith('_')) : [];
    for (const [id, batch] of batches) {
      const failedCount = typeof batch.failedRecordCount === 'number' ? batch.failedRecordCount : 0;
      const failedWhole = typeof batch.status === 'string' && FAILED.has(batch.status.toLowerCase());
      if (failedCount <= 0 && !failedWhole) continue;
      const records = recordsRead >= MAX_RECORDS_PER_WINDOW ? [] : await readFailedRecords(platform, id, MAX_RECORDS_PER_WINDOW - recordsRead, options.signal);
      recordsRead += records.length;
      const recordCount = typeof batch.recordCount === 'number' ? batch.recordCount : 0;
      const created = typeof batch.created === 'number' ? batch.created : window.from;
      const closedAt = typeof batch.completed === 'number' ? batch.completed : typeof batch.updated === 'number' ? batch.updated : created + 3_600_000;
      out.push({ id, created, closedAt, failedRecordCount: Math.max(failedCount, records.length, failedWhole && failedCount === 0 ? recordCount : 0), records });
    }
    if (batches.length < PAGE) return out;
  }
}

async function readFailedRecords(platform: PlatformClient, batchId: string, limit: number, signal: AbortSignal | undefined): Promise<Json[]> {
  const path = `${PLATFORM_PATHS.dataAccess}/batches/${encodeURIComponent(batchId)}/failed`;
  const listing = await platform.get<unknown>(path, signal ? { signal } : {});
  const files = isRecord(listing) && Array.isArray(listing.data) ? listing.data.filter(isRecord).map((f) => str(f.name)).filter((n): n is string => n !== undefined) : [];
  const records: Json[] = [];
  for (const name of files) {
    if (records.length >= limit) break;
    const text = await platform.getText(path, { query: { path: name }, ...(signal ? { signal } : {}) });
    records.push(...parseRecords(text).slice(0, limit - records.length));
  }
  return records;
}

/** A failed-record file: one JSON record a line (what the fake serves; the form is unconfirmed), or one JSON array. */
export function parseRecords(text: string): Json[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const all = JSON.parse(trimmed) as unknown;
      return Array.isArray(all) ? all.filter(isRecord) : [];
    } catch {
      return [];
    }
  }
  return trimmed
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return undefined;
      }
    })
    .filter(isRecord);
}
