/**
 * The windows accounting judges (issue 17): hours where every source of a route can be read by the
 * hour (Capillary's counts take any range, and so does the relay's store), days where Adobe is one of
 * them (Observability Insights documents daily granularity; finer is unconfirmed). UTC-aligned, the
 * last 7 days, closed ones only, except with ACCOUNTING_LAG_MINUTES=0: then the current one too.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** How far back a run looks: Capillary retries for 7 days, and the relay keeps history 8 at least. */
export const LOOKBACK_MS = 7 * DAY_MS;

export interface Window {
  from: number;
  to: number;
}

export const alignDown = (t: number, sizeMs: number) => Math.floor(t / sizeMs) * sizeMs;

/**
 * Windows of `sizeMs` that overlap [from, to) and lie in the last 7 days before `now`, oldest first:
 * those that have ended, and with `lagMs` 0 also the one under way.
 */
export function windowsToJudge(options: { now: number; sizeMs: number; lagMs: number; from?: number | undefined; to?: number | undefined }): Window[] {
  const { now, sizeMs, lagMs } = options;
  const current = alignDown(now, sizeMs);
  const earliest = alignDown(now - LOOKBACK_MS, sizeMs);
  const start = Math.max(earliest, alignDown(options.from ?? earliest, sizeMs));
  // The current window counts as closed only when Adobe's lag is set to none (tests, and operators who want it now).
  const endOfClosed = lagMs === 0 ? current + sizeMs : current;
  const end = Math.min(endOfClosed, options.to === undefined ? endOfClosed : alignDown(options.to - 1, sizeMs) + sizeMs);
  const windows: Window[] = [];
  for (let t = start; t < end; t += sizeMs) windows.push({ from: t, to: t + sizeMs });
  return windows;
}

/** Adobe's side of a window is judged only once the window is older than Adobe's stated latency. */
export const adobeDue = (window: Window, now: number, lagMs: number) => window.to + lagMs <= now || lagMs === 0;

/** The sub-ranges of at most an hour the relay's counts are read in, so no store query holds the store for long. */
export function hoursOf(window: Window): Window[] {
  const out: Window[] = [];
  for (let t = window.from; t < window.to; t = Math.min(window.to, alignDown(t, HOUR_MS) + HOUR_MS)) out.push({ from: t, to: Math.min(window.to, alignDown(t, HOUR_MS) + HOUR_MS) });
  return out;
}

/** ISO 8601 or epoch ms (as the admin API takes them); undefined for neither. */
export function parseInstant(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value)) return Number(value);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}
