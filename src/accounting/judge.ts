import type { Logger } from 'pino';
import type { PlatformClient } from '../adobe/platform/platform-client.js';
import type { CapillaryClient } from '../capillary/capillary-client.js';
import type { AccountingWindow, FindingEvent } from '../http/accounting-schemas.js';
import type { MessageKind } from '../mapping/types.js';
import type { Store } from '../store/types.js';
import { readFailedBatches, sumIn, type AdobeCounts } from './adobe-reads.js';
import { findingsOf, MAX_FINDING_EVENTS, type Rejections } from './findings.js';
import { matchFailedRecords, type Match } from './matching.js';
import { adobeDue, hoursOf, type Window } from './windows.js';

/** Everything accounting can read for one route, and why a column is absent. */
export interface RouteSources {
  route: string;
  /** Window size: an hour, or a day when Adobe is read. */
  sizeMs: number;
  datasets: Array<{ kind: MessageKind; dataset: string }>;
  /** The identity namespace of Capillary's customerId (profile records are matched by it). */
  customerNamespace: string;
  capillary: CapillaryClient | undefined;
  platform: PlatformClient | undefined;
  inletId: string | undefined;
  absent: { capillary?: string; adobe?: string };
}

export interface JudgeContext {
  store: Store;
  logger: Logger;
  now: number;
  lagMs: number;
  signal: AbortSignal;
  /** The route's Adobe counts for the whole run (one call), or why they could not be read. */
  adobeCounts: AdobeCounts | Error | undefined;
  /** Messages moved to the dead letters, for the dead-letter counter. */
  onDeadLettered(count: number): void;
}

/** Between the relay's clock (acknowledgement) and Adobe's (batch completion). */
const CLOCK_SLACK_MS = 5 * 60_000;

const reason = (error: unknown) => {
  const e = error as { code?: unknown; message?: unknown };
  return `${typeof e.code === 'string' ? `${e.code}: ` : ''}${typeof e.message === 'string' ? e.message : String(error)}`.slice(0, 500);
};

/** Judges one window of one route: reads the three columns, acts on failed records, derives the findings. */
export async function judgeWindow(sources: RouteSources, window: Window, ctx: JudgeContext): Promise<AccountingWindow> {
  const capillary = sources.capillary ? await capillaryColumn(sources.capillary, ctx, window) : undefined;
  const adobe = sources.platform ? await adobeColumn(sources, window, ctx) : undefined;
  // After Adobe's column: its failed records may have just made dead letters of delivered messages.
  const relay = await relayColumn(ctx.store, sources, window);
  return {
    from: window.from,
    to: window.to,
    judgedAt: ctx.now,
    capillary: capillary?.column ?? null,
    relay,
    adobe: adobe?.column ?? null,
    findings: findingsOf({ capillary: capillary?.column ?? null, gaveUp: capillary?.gaveUp, relay, adobe: adobe?.column ?? null, rejections: adobe?.rejections }),
  };
}

async function relayColumn(store: Store, sources: RouteSources, window: Window): Promise<AccountingWindow['relay']> {
  const totals = { accepted: 0, held: 0, unmapped: 0 };
  const byKind = new Map<MessageKind, { delivered: number; rejectedAfterAcceptance: number; dead: number }>();
  // An hour at a time: each store query stays short, so webhooks' commits are never long behind one.
  for (const hour of hoursOf(window)) {
    const counts = await store.relayCounts({ route: sources.route, ...hour });
    totals.accepted += counts.accepted;
    totals.held += counts.held;
    totals.unmapped += counts.unmapped;
    for (const m of counts.messages) {
      const sum = byKind.get(m.kind) ?? { delivered: 0, rejectedAfterAcceptance: 0, dead: 0 };
      sum.delivered += m.delivered;
      sum.rejectedAfterAcceptance += m.rejectedAfterAcceptance;
      sum.dead += m.dead;
      byKind.set(m.kind, sum);
    }
  }
  const datasets = sources.datasets.map(({ kind, dataset }) => {
    const sum = byKind.get(kind) ?? { delivered: 0, rejectedAfterAcceptance: 0, dead: 0 };
    return { dataset, kind, delivered: sum.delivered + sum.rejectedAfterAcceptance, rejectedAfterAcceptance: sum.rejectedAfterAcceptance, dead: sum.dead };
  });
  return { ...totals, datasets };
}

async function capillaryColumn(client: CapillaryClient, ctx: JudgeContext, window: Window) {
  let counts;
  try {
    counts = await client.deliveryCounts(window, ctx.signal);
  } catch (error) {
    ctx.signal.throwIfAborted();
    ctx.logger.warn({ err: error, from: window.from }, 'Capillary delivery counts could not be read');
    const column: NonNullable<AccountingWindow['capillary']> = { status: 'unavailable', error: reason(error), total: null, delivered: null, failed: null, retrying: null, pending: null };
    return { column, gaveUp: undefined };
  }
  const column: NonNullable<AccountingWindow['capillary']> = { status: 'ok', ...counts };
  if ((counts.failed ?? 0) === 0) return { column, gaveUp: undefined };
  try {
    const log = await client.failedEvents(window, MAX_FINDING_EVENTS, ctx.signal);
    const ids = log.entries.map((e) => e.eventId).filter((id): id is string => id !== null);
    const stored = new Set(ids.length > 0 ? (await ctx.store.listEventsForReplay({ eventIds: ids, limit: ids.length })).map((e) => e.eventId) : []);
    const events: FindingEvent[] = log.entries.map((e) => ({ eventId: e.eventId, eventName: e.eventName, at: e.at, requestId: e.requestId, error: e.error, storedByRelay: e.eventId !== null && stored.has(e.eventId) }));
    return { column, gaveUp: { events, truncated: log.truncated } };
  } catch (error) {
    ctx.signal.throwIfAborted();
    // The counts stand; only the list of events is missing.
    ctx.logger.warn({ err: error, from: window.from }, "Capillary's delivery log could not be read");
    return { column, gaveUp: undefined };
  }
}

async function adobeColumn(sources: RouteSources, window: Window, ctx: JudgeContext) {
  type Column = NonNullable<AccountingWindow['adobe']>;
  const empty = sources.datasets.map(({ kind, dataset }) => ({ dataset, kind, landed: null, failedRecords: 0, failedBatches: 0 }));
  if (!adobeDue(window, ctx.now, ctx.lagMs)) {
    return { column: { status: 'waiting', judgedFrom: window.to + ctx.lagMs, inlet: null, datasets: empty } satisfies Column, rejections: undefined };
  }
  const counts = ctx.adobeCounts;
  if (counts === undefined || counts instanceof Error) {
    return { column: { status: 'unavailable', error: counts ? reason(counts) : 'not read', inlet: null, datasets: empty } satisfies Column, rejections: undefined };
  }
  const rejections: Rejections = { total: 0, deadLettered: 0, awaitingReplay: 0, requeued: 0, redelivered: 0, unmatched: 0, events: [] };
  const datasets: Column['datasets'] = [];
  try {
    for (const { kind, dataset } of sources.datasets) {
      const batches = await readFailedBatches(sources.platform!, { dataset, window, signal: ctx.signal });
      const closedAt = new Map(batches.map((b) => [b.id, b.closedAt]));
      const records = batches.flatMap((b) => b.records.map((record) => ({ batchId: b.id, record })));
      const matches = await matchFailedRecords(ctx.store, { route: sources.route, kind, window, customerNamespace: sources.customerNamespace, records });
      // A message delivered again after the batch that failed it is a new copy, not the failed one:
      // it stays delivered (if it fails again, a later batch says so).
      const failedCopy = (m: Match) => m.message !== undefined && (m.message.settledAt ?? 0) <= (closedAt.get(m.failed.batchId) ?? 0) + CLOCK_SLACK_MS;
      const toMove = matches.filter((m) => m.message?.state === 'delivered' && failedCopy(m));
      const moved = await ctx.store.rejectAfterAcceptance(toMove.map((m) => ({ messageId: m.message!.id, error: m.error })), ctx.now);
      ctx.onDeadLettered(moved);
      const failedRecords = batches.reduce((n, b) => n + b.failedRecordCount, 0);
      const matched = matches.filter((m) => m.message !== undefined);
      const dead = matched.filter((m) => m.message!.state === 'dead' && !toMove.includes(m)).length;
      const requeued = matched.filter((m) => m.message!.state === 'pending' || m.message!.state === 'in_flight').length;
      rejections.total += failedRecords;
      rejections.deadLettered += toMove.length;
      rejections.awaitingReplay += dead;
      rejections.requeued += requeued;
      rejections.redelivered += matched.length - toMove.length - dead - requeued;
      // Records past the per-window read cap are counted from Catalog alone.
      rejections.unmatched += failedRecords - matched.length;
      const open = matches.filter((m) => !m.message || toMove.includes(m) || m.message.state === 'dead');
      rejections.events.push(...open.map((m) => ({ eventId: m.eventId ?? null, ...(m.message ? { messageId: m.message.id } : {}), error: m.error })));
      datasets.push({ dataset, kind, landed: sumIn(counts.landed, dataset, window), failedRecords, failedBatches: batches.length });
    }
  } catch (error) {
    ctx.signal.throwIfAborted();
    ctx.logger.warn({ err: error, from: window.from }, "Adobe's failed batches could not be read");
    return { column: { status: 'unavailable', error: reason(error), inlet: null, datasets: empty } satisfies Column, rejections: undefined };
  }
  const inlet = sources.inletId ? { success: sumIn(counts.inletSuccess, sources.inletId, window), failure: sumIn(counts.inletFailure, sources.inletId, window) } : null;
  return { column: { status: 'ok', inlet, datasets } satisfies Column, rejections };
}
