import { Type, type Static } from '@sinclair/typebox';

/**
 * Wire shapes of accounting (issue 17), defined once: GET /admin/accounting and POST
 * /admin/accounting/run answer them (src/ops/accounting-routes.ts), the job stores each window as
 * one (src/accounting/), and openapi.yaml repeats them.
 */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Count = Type.Integer({ minimum: 0 });

export const FINDING_KINDS = ['capillary_gave_up', 'rejected_after_acceptance', 'landed_short', 'source_unavailable'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** A column's state: read; could not be read (`error` says why); or (Adobe) not yet judged, within ACCOUNTING_LAG_MINUTES. */
const ColumnStatus = Type.Union([Type.Literal('ok'), Type.Literal('unavailable'), Type.Literal('waiting')]);

export const CapillaryColumn = Type.Object(
  {
    status: ColumnStatus,
    error: Type.Optional(Type.String()),
    total: Nullable(Count),
    delivered: Nullable(Count),
    failed: Nullable(Count),
    retrying: Nullable(Count),
    pending: Nullable(Count),
  },
  { additionalProperties: false, description: "Capillary's own delivery counts of the webhook's consumer group for the window" },
);

export const RelayColumn = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0, description: 'events the relay stored, by acceptance time (held and unmapped among them)' }),
    held: Count,
    unmapped: Count,
    datasets: Type.Array(
      Type.Object(
        {
          dataset: Type.String(),
          kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]),
          delivered: Type.Integer({ minimum: 0, description: "messages Adobe acknowledged in the window (rejected ones included)" }),
          rejectedAfterAcceptance: Type.Integer({ minimum: 0, description: 'of those, dead letters since: their records failed in Adobe' }),
          dead: Type.Integer({ minimum: 0, description: 'messages the relay dead-lettered itself in the window' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'what the relay accepted and delivered; messages by the time Adobe acknowledged them' },
);

export const AdobeColumn = Type.Object(
  {
    status: ColumnStatus,
    error: Type.Optional(Type.String()),
    /** Epoch ms: when the window will be judged on Adobe's side (status `waiting`). */
    judgedFrom: Type.Optional(Type.Integer()),
    inlet: Nullable(Type.Object({ success: Nullable(Count), failure: Nullable(Count) }, { additionalProperties: false })),
    datasets: Type.Array(
      Type.Object(
        {
          dataset: Type.String(),
          kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]),
          landed: Nullable(Type.Integer({ minimum: 0, description: 'records Adobe counts as landed (Observability Insights); null when it has no series for the dataset' })),
          failedRecords: Type.Integer({ minimum: 0, description: 'records of the failed batches (Catalog + Data Access)' }),
          failedBatches: Count,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: "what Adobe says landed, and what failed its asynchronous validation" },
);

export const FindingEvent = Type.Object(
  {
    eventId: Nullable(Type.String()),
    eventName: Type.Optional(Nullable(Type.String())),
    at: Type.Optional(Nullable(Type.Integer({ description: 'epoch ms' }))),
    requestId: Type.Optional(Nullable(Type.String({ description: "Capillary's API request id" }))),
    messageId: Type.Optional(Type.Integer({ description: 'the dead letter, for a replay' })),
    storedByRelay: Type.Optional(Type.Boolean({ description: 'the relay has the event after all (no re-send needed)' })),
    error: Type.Optional(Nullable(Type.String())),
  },
  { additionalProperties: false },
);
export type FindingEvent = Static<typeof FindingEvent>;

export const Finding = Type.Object(
  {
    kind: Type.Union(FINDING_KINDS.map((k) => Type.Literal(k))),
    count: Count,
    detail: Type.String(),
    events: Type.Optional(Type.Array(FindingEvent, { description: 'the events concerned, as far as the sources name them (at most 100)' })),
  },
  { additionalProperties: false },
);
export type Finding = Static<typeof Finding>;

export const AccountingWindow = Type.Object(
  {
    from: Type.Integer({ description: 'epoch ms, inclusive' }),
    to: Type.Integer({ description: 'epoch ms, exclusive' }),
    judgedAt: Type.Integer({ description: 'epoch ms' }),
    capillary: Nullable(CapillaryColumn),
    relay: RelayColumn,
    adobe: Nullable(AdobeColumn),
    findings: Type.Array(Finding),
  },
  { additionalProperties: false },
);
export type AccountingWindow = Static<typeof AccountingWindow>;

export const AccountingReport = Type.Object(
  {
    routes: Type.Array(
      Type.Object(
        {
          route: Type.String(),
          absent: Type.Object(
            { capillary: Type.Optional(Type.String()), adobe: Type.Optional(Type.String()) },
            { additionalProperties: false, description: 'why a column is null for this route (settings or credentials missing)' },
          ),
          windows: Type.Array(AccountingWindow),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'AccountingReport', additionalProperties: false },
);
export type AccountingReport = Static<typeof AccountingReport>;

export const AccountingRunResult = Type.Object(
  {
    runId: Type.String(),
    routes: AccountingReport.properties.routes,
  },
  { $id: 'AccountingRunResult', additionalProperties: false, description: 'the windows this run judged' },
);
export type AccountingRunResult = Static<typeof AccountingRunResult>;

/** ISO 8601 (`2026-01-01T00:00:00Z`) or epoch ms (`1767225600000`). */
const Instant = Type.String({ minLength: 1, maxLength: 40, pattern: '^(\\d{1,15}|\\d{4}-\\d{2}-\\d{2}([T ][0-9:.]+)?(Z|[+-]\\d{2}:?\\d{2})?)$', description: 'ISO 8601 or epoch ms' });

export const AccountingRunRequest = Type.Object(
  {
    route: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'one route; default every route' })),
    from: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Instant])),
    to: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Instant])),
  },
  { $id: 'AccountingRunRequest', additionalProperties: false },
);
export type AccountingRunRequest = Static<typeof AccountingRunRequest>;

export const AccountingQuery = Type.Object(
  {
    route: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    from: Type.Optional(Instant),
    to: Type.Optional(Instant),
  },
  { additionalProperties: false },
);
export type AccountingQuery = Static<typeof AccountingQuery>;

export const ACCOUNTING_SCHEMAS = [AccountingReport, AccountingRunResult, AccountingRunRequest];
