import type { AdobeColumn, CapillaryColumn, Finding, FindingEvent, RelayColumn } from '../http/accounting-schemas.js';
import type { Static } from '@sinclair/typebox';

/**
 * What a window's three columns say together (issue 17; docs/accounting.md says what each means and
 * what to do):
 * - capillary_gave_up: Capillary counts failed events: it stopped retrying them, they never reached the relay.
 * - rejected_after_acceptance: records Adobe acknowledged, then failed in its asynchronous validation.
 * - landed_short: Adobe counts fewer records landed in a dataset than the relay delivered there, beyond
 *   what the failed records explain.
 * - source_unavailable: a column could not be read (permission, outage); the others still show.
 */
type Capillary = Static<typeof CapillaryColumn>;
type Relay = Static<typeof RelayColumn>;
type Adobe = Static<typeof AdobeColumn>;

/** Events listed with a finding, at most: the sources' own logs have the rest. */
export const MAX_FINDING_EVENTS = 100;

/**
 * The failed records of a window, by what became of them. A failed batch stays in Catalog, so its
 * records are read again by every run of the next 7 days: what counts is what still needs someone.
 */
export interface Rejections {
  /** Failed records of the window. */
  total: number;
  /** Moved to the dead letters by this run. */
  deadLettered: number;
  /** Dead letters already (an earlier run moved them), waiting for a fix and a replay. */
  awaitingReplay: number;
  /** Replayed and queued again. */
  requeued: number;
  /** Delivered again after the batch that failed them: Adobe took the new copy (or will say so). */
  redelivered: number;
  /** Not matched to an event with certainty: counted only. */
  unmatched: number;
  events: FindingEvent[];
}

/** What still needs an operator: dead letters not yet replayed, and records no event could be matched to. */
export const unresolved = (r: Rejections) => r.deadLettered + r.awaitingReplay + r.unmatched;

export function findingsOf(columns: {
  capillary: Capillary | null;
  gaveUp: { events: FindingEvent[]; truncated: boolean } | undefined;
  relay: Relay;
  adobe: Adobe | null;
  rejections: Rejections | undefined;
}): Finding[] {
  const { capillary, relay, adobe, rejections } = columns;
  const findings: Finding[] = [];
  const unavailable = [capillary && capillary.status === 'unavailable' ? `Capillary: ${capillary.error ?? 'unreadable'}` : undefined, adobe && adobe.status === 'unavailable' ? `Adobe: ${adobe.error ?? 'unreadable'}` : undefined].filter(
    (s): s is string => s !== undefined,
  );

  const failed = capillary?.status === 'ok' ? (capillary.failed ?? 0) : 0;
  // An event the relay has after all (re-sent from Capillary since) needs nothing more.
  const listed = columns.gaveUp?.events ?? [];
  const resent = listed.filter((e) => e.storedByRelay).length;
  if (failed - resent > 0) {
    const open = listed.filter((e) => !e.storedByRelay);
    findings.push({
      kind: 'capillary_gave_up',
      count: failed - resent,
      detail:
        `Capillary gave up on ${failed} event(s) of this window: they never reached the relay${resent > 0 ? ` (${resent} have been re-sent since)` : ''}. ` +
        (open.length > 0
          ? `${open.length}${columns.gaveUp?.truncated ? '+' : ''} listed from its delivery log: re-send them from Capillary.`
          : "Its delivery log named none of them: find them in Capillary's Event delivery details and re-send them."),
      ...(open.length > 0 ? { events: open.slice(0, MAX_FINDING_EVENTS) } : {}),
    });
  }

  if (adobe?.status === 'ok' && rejections && unresolved(rejections) > 0) {
    const r = rejections;
    findings.push({
      kind: 'rejected_after_acceptance',
      count: unresolved(r),
      detail:
        `Adobe acknowledged ${r.total} record(s) of this window and then failed them in validation: ` +
        [
          r.deadLettered > 0 ? `${r.deadLettered} moved to the dead letters now` : '',
          r.awaitingReplay > 0 ? `${r.awaitingReplay} dead letters waiting for a replay` : '',
          r.unmatched > 0 ? `${r.unmatched} not matched to an event with certainty (counted only: see the batches in Adobe)` : '',
          r.requeued > 0 ? `${r.requeued} replayed and queued` : '',
          r.redelivered > 0 ? `${r.redelivered} delivered again since` : '',
        ]
          .filter(Boolean)
          .join(', ') +
        '. Fix the schema or the mapping, then replay the dead letters.',
      ...(r.events.length > 0 ? { events: r.events.slice(0, MAX_FINDING_EVENTS) } : {}),
    });
  }

  if (adobe?.status === 'ok') {
    const short = adobe.datasets.flatMap((d) => {
      const sent = relay.datasets.find((r) => r.dataset === d.dataset && r.kind === d.kind);
      if (!sent || d.landed === null) return [];
      const acknowledged = sent.delivered;
      const missing = acknowledged - d.failedRecords - d.landed;
      return missing > 0 ? [{ dataset: d.dataset, missing, acknowledged, landed: d.landed, failed: d.failedRecords }] : [];
    });
    if (short.length > 0) {
      findings.push({
        kind: 'landed_short',
        count: short.reduce((n, s) => n + s.missing, 0),
        detail: short.map((s) => `dataset ${s.dataset}: Adobe acknowledged ${s.acknowledged}, failed ${s.failed}, counts ${s.landed} landed: ${s.missing} unaccounted for`).join('; '),
      });
    }
  }

  if (unavailable.length > 0) findings.push({ kind: 'source_unavailable', count: unavailable.length, detail: unavailable.join('; ') });
  return findings;
}
