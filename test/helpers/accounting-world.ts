import { AEP, aepEnv, QUICK_DELIVERY_ENV, xdmMessageValidator } from './aep-relay.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from './fake-adobe.js';
import { startFakeCapillary, type FakeCapillary } from './fake-capillary.js';
import { startFakePlatform, type FakePlatform } from './fake-platform.js';

/**
 * Everything accounting reads, as local fakes (real HTTP servers): IMS and DCS for delivery, the
 * Platform API for what Adobe says landed or failed, Capillary's API for what it says it sent.
 * `env` points a relay at all of them, with Adobe's lag off so the current day is judged.
 */
export const DAY = 86_400_000;

/**
 * A clock that runs, set to the middle of a UTC day, so no window edge falls inside a test; `advance`
 * moves it on (minutes pass between an Adobe batch closing and an operator's replay).
 */
export function noonClock(): (() => number) & { advance(ms: number): void } {
  let shift = (Date.now() % DAY) - DAY / 2;
  return Object.assign(() => Date.now() - shift, {
    advance(ms: number) {
      shift -= ms;
    },
  });
}

export interface AccountingWorld {
  ims: FakeIms;
  dcs: FakeDcs;
  platform: FakePlatform;
  capillary: FakeCapillary;
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Accounting's sources for a relay (also bench/accounting): the fake Platform API and Capillary's,
 * Adobe's lag off so the current day is judged, and no run by timer (runs are asked for).
 */
export function accountingSourcesEnv(platform: FakePlatform, capillary: FakeCapillary): Record<string, string> {
  return {
    AEP_PLATFORM_URL: platform.origin,
    CAPILLARY_API_URL: capillary.origin,
    CAPILLARY_API_KEY: capillary.key,
    CAPILLARY_API_SECRET: capillary.secret,
    CAPILLARY_CONSUMER_GROUP_ID: capillary.consumerGroupId,
    ACCOUNTING_LAG_MINUTES: '0',
    ACCOUNTING_INTERVAL_MS: '86400000',
  };
}

export async function startAccountingWorld(overrides: Record<string, string> = {}): Promise<AccountingWorld> {
  const ims = await startFakeIms();
  const dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
  const platform = await startFakePlatform({ ims, orgId: AEP.orgId });
  const capillary = await startFakeCapillary();
  const env = aepEnv(ims, dcs, { ...QUICK_DELIVERY_ENV, AEP_SANDBOX_NAME: 'prod', ...accountingSourcesEnv(platform, capillary), ...overrides });
  return {
    ims,
    dcs,
    platform,
    capillary,
    env,
    async close() {
      await Promise.all([capillary.close(), platform.close(), dcs.close()]);
      await ims.close();
    },
  };
}

/** The messages the fake DCS took for a dataset, by `_id` where they have one. */
export function acceptedIn(dcs: FakeDcs, datasetId: string): unknown[] {
  return dcs.accepted.map((a) => a.message).filter((m) => (m as { header?: { datasetId?: string } } | undefined)?.header?.datasetId === datasetId);
}

/** Adobe counts `count` records landed in `dataset` on the day that starts at `day` (Observability). */
export function setLanded(platform: FakePlatform, dataset: string, day: number, count: number): void {
  const metrics = platform.sandbox().metrics;
  const at = new Date(day).toISOString();
  const series = metrics.find((s) => s.metric === 'timeseries.ingestion.dataset.recordsuccess.count' && s.labels.dataSetId === dataset);
  if (series) series.dps[at] = count;
  else metrics.push({ metric: 'timeseries.ingestion.dataset.recordsuccess.count', labels: { dataSetId: dataset }, dps: { [at]: count } });
}

export const VALIDATION_ERROR = { keyword: 'additionalProperties', message: 'extraneous key [loyaltyExtra] is not permitted', pointerToViolation: '#/loyaltyExtra', schemaLocation: '#' };

/** A streaming batch of `dataset` that says success and holds failed records (as Adobe's can). */
export function addFailedBatch(platform: FakePlatform, options: { id: string; dataset: string; created: number; completed: number; records: Array<Record<string, unknown>>; recordCount?: number }): void {
  const sandbox = platform.sandbox();
  sandbox.batches.push({
    id: options.id,
    status: 'success',
    created: options.created,
    completed: options.completed,
    recordCount: options.recordCount ?? options.records.length + 10,
    failedRecordCount: options.records.length,
    errors: [{ code: '101', description: 'records failed validation' }],
    relatedObjects: [{ type: 'dataSet', id: options.dataset }],
  });
  sandbox.failedFiles[options.id] = [{ name: 'part-00000.json', records: options.records.map((r) => ({ ...r, _validationErrors: [VALIDATION_ERROR] })) }];
}
