import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AccountingReport, AccountingRunResult } from '../http/accounting-schemas.js';
import type { Metrics } from '../metrics.js';
import type { LiveRoute } from '../routes/route-table.js';
import { REJECTED_AFTER_ACCEPTANCE } from '../store/accounting-types.js';
import type { Store } from '../store/types.js';
import { readAdobeCounts, type AdobeCounts } from './adobe-reads.js';
import { judgeWindow, type RouteSources } from './judge.js';
import { refreshGauges, toReport } from './reports.js';
import type { RouteSourcesFactory } from './sources.js';
import { LOOKBACK_MS, windowsToJudge, type Window } from './windows.js';

/**
 * The accounting job (issue 17): for each route and each closed window of the last 7 days, what
 * Capillary says it sent, what the relay accepted and delivered, what Adobe says landed or failed;
 * findings acted on (failed records become dead letters). Off the request path: on a timer and on
 * POST /admin/accounting/run. One run at a time in the process, and across replicas through the
 * store's lock. Each judged window is saved as it is done, under the run's id, and the run is marked
 * finished at the end: a process killed mid-run leaves it unfinished, and the next holder of the
 * lock resumes it, skipping the windows already saved. Re-judging a window replaces it (and moving a
 * message to the dead letters touches delivered messages only), so nothing is counted twice.
 */
export interface RunRequest {
  /** Only this route; default every route. */
  route?: string;
  from?: number;
  to?: number;
}

interface RunParams {
  /** Route ids; null: every route in service. */
  routes: string[] | null;
  from: number | null;
  to: number | null;
  /** When the run started: the windows are those closed by then, so a resumed run judges the same ones. */
  at: number;
}

export interface AccountingJob {
  /** Runs now, waiting for another replica's run to end first (up to `waitMs`). */
  run(request: RunRequest): Promise<AccountingRunResult>;
  /** The timer's turn: resumes an interrupted run, or runs if none ran for an interval; skips if another replica holds the lock. */
  tick(): Promise<void>;
  report(query: { route?: string; from: number; to: number }): Promise<AccountingReport>;
  start(): void;
  stop(): Promise<void>;
}

export class AccountingBusyError extends Error {
  readonly code = 'ACCOUNTING_BUSY';
}

export function createAccountingJob(deps: {
  store: Store;
  routes: () => LiveRoute[];
  sources: RouteSourcesFactory;
  metrics: Metrics;
  logger: Logger;
  intervalMs: number;
  /** ACCOUNTING_LAG_MINUTES. */
  lagMinutes: number;
  /** With ROUTES_FILE the relay's counters carry a `route` label; without, they keep the labels they always had. */
  labelRoute?: boolean;
  /** How long POST /admin/accounting/run waits for another replica's run. */
  waitMs?: number;
  now?: () => number;
}): AccountingJob {
  const { store, metrics, logger, intervalMs } = deps;
  const lagMs = deps.lagMinutes * 60_000;
  const now = deps.now ?? Date.now;
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  const stopping = new AbortController();
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;

  /** One at a time in this process: runs, ticks and gauge refreshes queue behind each other. */
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const live = () => new Map(deps.routes().map((r) => [r.config.id, r]));
  const sourcesOf = (routes: Map<string, LiveRoute>) => {
    deps.sources.keepOnly(new Set(routes.keys()));
    return [...routes.values()].map((r) => deps.sources.of(r));
  };

  const gauges = async () => {
    const sources = sourcesOf(live());
    await refreshGauges(store, metrics, sources.map((s) => ({ route: s.route, capillary: Boolean(s.capillary), adobe: Boolean(s.platform) })), now());
  };

  const judgeRoute = async (sources: RouteSources, params: RunParams, runId: string, done: Set<string>) => {
    const windows = windowsToJudge({ now: params.at, sizeMs: sources.sizeMs, lagMs, from: params.from ?? undefined, to: params.to ?? undefined });
    if (windows.length === 0) return;
    let adobeCounts: AdobeCounts | Error | undefined;
    if (sources.platform) {
      const range: Window = { from: windows[0]!.from, to: windows[windows.length - 1]!.to };
      adobeCounts = await readAdobeCounts(sources.platform, { datasets: sources.datasets.map((d) => d.dataset), inletId: sources.inletId, range, signal: stopping.signal }).catch((error: unknown) => {
        stopping.signal.throwIfAborted();
        logger.warn({ err: error, route: sources.route }, "Adobe's Observability metrics could not be read");
        return error instanceof Error ? error : new Error(String(error));
      });
    }
    for (const window of windows) {
      stopping.signal.throwIfAborted();
      if (done.has(`${sources.route}|${window.from}`)) continue;
      const judged = await judgeWindow(sources, window, {
        store,
        logger,
        now: now(),
        lagMs,
        signal: stopping.signal,
        adobeCounts,
        onDeadLettered: (count) => {
          if (count > 0) metrics.messagesDeadLettered.inc({ reason: REJECTED_AFTER_ACCEPTANCE, ...(deps.labelRoute ? { route: sources.route } : {}) }, count);
        },
      });
      await store.saveAccountingWindow({ route: sources.route, from: window.from, to: window.to, judgedAt: judged.judgedAt, runId, report: JSON.stringify(judged) });
      for (const f of judged.findings) logger.warn({ route: sources.route, from: window.from, kind: f.kind, count: f.count, detail: f.detail }, 'accounting finding');
    }
  };

  /** Judges every window of the run not already saved under its id, then marks it finished. */
  const perform = async (runId: string, params: RunParams, resumed: boolean): Promise<AccountingRunResult> => {
    const started = now();
    const routes = live();
    const selected = params.routes === null ? [...routes.values()] : params.routes.map((id) => routes.get(id)).filter((r): r is LiveRoute => r !== undefined);
    const sources = sourcesOf(new Map(selected.map((r) => [r.config.id, r])));
    const lookback = { from: params.at - LOOKBACK_MS - 86_400_000, to: params.at + 86_400_000 };
    const done = new Set(resumed ? (await store.listAccountingWindows(lookback)).filter((w) => w.runId === runId).map((w) => `${w.route}|${w.from}`) : []);
    if (resumed) logger.info({ runId, windowsDone: done.size }, 'resuming an accounting run interrupted before it finished');
    for (const s of sources) await judgeRoute(s, params, runId, done);
    await store.finishAccountingRun(runId, now(), params.at - LOOKBACK_MS - 86_400_000);
    const judged = (await store.listAccountingWindows(lookback)).filter((w) => w.runId === runId);
    logger.info({ runId, windows: judged.length, ms: now() - started }, 'accounting run finished');
    await gauges();
    return { runId, routes: toReport(judged, sources.map((s) => ({ route: s.route, absent: s.absent }))).routes };
  };

  const resumeUnfinished = async () => {
    const latest = await store.latestAccountingRun();
    if (!latest || latest.finishedAt !== null) return latest;
    await perform(latest.runId, JSON.parse(latest.params) as RunParams, true);
    return store.latestAccountingRun();
  };

  const newRun = async (params: RunParams) => {
    const runId = randomUUID();
    await store.startAccountingRun({ runId, startedAt: params.at, params: JSON.stringify(params) });
    return perform(runId, params, false);
  };

  /** With the lock held (the caller's to release). */
  const withLock = async <T>(wait: boolean, fn: () => Promise<T>): Promise<T | undefined> => {
    const deadline = now() + (deps.waitMs ?? 300_000);
    for (let tries = 0; !(await store.acquireAccountingLock(owner)); tries += 1) {
      if (!wait) return undefined;
      if (tries === 0) logger.info('another replica is running accounting: waiting for it to finish');
      if (now() >= deadline) throw new AccountingBusyError('another replica has been running accounting for too long; try again later');
      await new Promise((resolve) => setTimeout(resolve, 200));
      stopping.signal.throwIfAborted();
    }
    try {
      return await fn();
    } finally {
      await store.releaseAccountingLock(owner).catch((error: unknown) => logger.warn({ err: error }, 'could not release the accounting lock'));
    }
  };

  const schedule = (delayMs: number) => {
    if (stopping.signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      ticking = job.tick().finally(() => {
        ticking = undefined;
        schedule(intervalMs);
      });
    }, Math.max(0, delayMs));
  };

  const job: AccountingJob = {
    run(request) {
      return exclusive(async () => {
        const result = await withLock(true, async () => {
          // Someone's interrupted run first: its windows were promised.
          await resumeUnfinished();
          return newRun({ routes: request.route ? [request.route] : null, from: request.from ?? null, to: request.to ?? null, at: now() });
        });
        return result!;
      });
    },

    tick() {
      return exclusive(async () => {
        const ran = await withLock(false, async () => {
          const latest = await resumeUnfinished();
          // Every replica has a timer: the run is due only when none ran for (most of) an interval.
          if (latest && latest.startedAt + intervalMs * 0.9 > now()) return true;
          await newRun({ routes: null, from: null, to: null, at: now() });
          return true;
        });
        if (!ran) await gauges();
      }).catch((error: unknown) => {
        if (!stopping.signal.aborted) logger.error({ err: error }, 'accounting run failed; the next one retries');
      });
    },

    async report({ route, from, to }) {
      const routes = [...live().values()].filter((r) => route === undefined || r.config.id === route);
      const records = await store.listAccountingWindows({ ...(route !== undefined ? { route } : {}), from, to });
      return toReport(records, routes.map((r) => ({ route: r.config.id, absent: deps.sources.of(r).absent })));
    },

    start() {
      void (async () => {
        const latest = await store.latestAccountingRun();
        await exclusive(gauges);
        // An interrupted run is resumed at once; otherwise the cadence carries on from the last run (a fresh store waits an interval).
        const due = latest === undefined ? now() + intervalMs : latest.finishedAt === null ? now() : latest.startedAt + intervalMs;
        schedule(due - now());
      })().catch((error: unknown) => {
        logger.warn({ err: error }, 'accounting could not read its state at start; first run in one interval');
        schedule(intervalMs);
      });
    },

    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await ticking;
      await queue;
    },
  };
  return job;
}
