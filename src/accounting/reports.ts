import type { AccountingReport, AccountingWindow, FindingKind } from '../http/accounting-schemas.js';
import { FINDING_KINDS } from '../http/accounting-schemas.js';
import type { Metrics } from '../metrics.js';
import type { AccountingWindowRecord } from '../store/accounting-types.js';
import type { Store } from '../store/types.js';
import { LOOKBACK_MS } from './windows.js';

/** The judged windows as the admin API answers them, grouped by route (each route listed, judged or not). */
export function toReport(records: AccountingWindowRecord[], routes: Array<{ route: string; absent: { capillary?: string; adobe?: string } }>): AccountingReport {
  const byRoute = new Map<string, AccountingWindow[]>();
  for (const record of records) {
    const windows = byRoute.get(record.route) ?? [];
    windows.push(JSON.parse(record.report) as AccountingWindow);
    byRoute.set(record.route, windows);
  }
  const known = routes.map(({ route, absent }) => ({ route, absent, windows: byRoute.get(route) ?? [] }));
  // Windows of a route no longer served stay visible (until they age out), without a reason to give.
  const gone = [...byRoute.keys()].filter((route) => !routes.some((r) => r.route === route)).map((route) => ({ route, absent: {}, windows: byRoute.get(route)! }));
  return { routes: [...known, ...gone] };
}

/**
 * Sets the accounting gauges from the windows stored for the last 7 days, so every replica (and a
 * restarted one) reports what the store holds, whoever ran the job: findings summed per route and
 * kind (0 when none, so an alert's `> 0` has a series to look at), and per source the newest window
 * in which it was read (0 when it was tried and never read).
 */
export async function refreshGauges(store: Store, metrics: Metrics, routes: Array<{ route: string; capillary: boolean; adobe: boolean }>, now: number): Promise<void> {
  const records = await store.listAccountingWindows({ from: now - LOOKBACK_MS, to: now + 1 });
  metrics.accountingFindings.reset();
  metrics.accountingLastSuccess.reset();
  for (const { route, capillary, adobe } of routes) {
    const windows = records.filter((r) => r.route === route).map((r) => JSON.parse(r.report) as AccountingWindow);
    const sums = new Map<FindingKind, number>(FINDING_KINDS.map((k) => [k, 0]));
    for (const w of windows) for (const f of w.findings) sums.set(f.kind, (sums.get(f.kind) ?? 0) + f.count);
    for (const [kind, count] of sums) metrics.accountingFindings.set({ route, kind }, count);
    if (windows.length === 0) continue;
    const newest = (ok: (w: AccountingWindow) => boolean) => windows.filter(ok).reduce((t, w) => Math.max(t, w.judgedAt), 0) / 1000;
    metrics.accountingLastSuccess.set({ route, source: 'relay' }, newest(() => true));
    if (capillary) metrics.accountingLastSuccess.set({ route, source: 'capillary' }, newest((w) => w.capillary?.status === 'ok'));
    // A window still within Adobe's lag was not read from Adobe: it neither counts as a success nor a failure.
    const adobeTried = windows.filter((w) => w.adobe && w.adobe.status !== 'waiting');
    if (adobe && adobeTried.length > 0) metrics.accountingLastSuccess.set({ route, source: 'adobe' }, newest((w) => w.adobe?.status === 'ok'));
  }
}
