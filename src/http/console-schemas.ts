import { Type, type Static } from '@sinclair/typebox';

/**
 * Wire shapes of the admin API the operator console uses (issue 14), defined once: the routes
 * (src/ops/console-api.ts) validate and serialize with them and openapi.yaml repeats them.
 */
const EventStateName = Type.Union(['unmapped', 'held', 'pending', 'delivered', 'dead', 'no_output'].map((s) => Type.Literal(s)));
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const EventSearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'an event id or a customer id, matched exactly' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'event name (case-sensitive)' })),
    state: Type.Optional(EventStateName),
    route: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'only events received by this route (`default` for the environment\'s route)' })),
    from: Type.Optional(Type.Integer({ minimum: 0, description: 'received at or after (epoch ms)' })),
    to: Type.Optional(Type.Integer({ minimum: 0, description: 'received before (epoch ms)' })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    before: Type.Optional(Type.String({ maxLength: 2200, description: 'the `next` cursor of the previous page' })),
  },
  { additionalProperties: false },
);
export type EventSearchQuery = Static<typeof EventSearchQuery>;

export const EventSearchPage = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          eventId: Type.String(),
          eventName: Type.String(),
          customerId: Nullable(Type.String()),
          route: Nullable(Type.String()),
          receivedAt: Type.Integer(),
          state: EventStateName,
        },
        { additionalProperties: false },
      ),
    ),
    next: Nullable(Type.String({ description: 'pass as `before` for the next (older) page; null on the last page' })),
  },
  { $id: 'EventSearchPage', additionalProperties: false },
);

export const AttemptList = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          messageId: Type.Integer(),
          outcome: Type.Union([Type.Literal('delivered'), Type.Literal('retry'), Type.Literal('dead')]),
          at: Type.Integer({ description: 'when the request to Adobe started (epoch ms)' }),
          durationMs: Type.Integer(),
          status: Nullable(Type.Integer({ description: "Adobe's HTTP status; null for a network error or timeout" })),
          batchSize: Type.Integer(),
          xactionId: Type.Optional(Type.String({ description: "Adobe's transaction id (delivered)" })),
          error: Type.Optional(Type.String({ description: "Adobe's message or the network error (not delivered)" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'AttemptList', additionalProperties: false },
);

const DeadLetterFilterProps = {
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  route: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'only dead letters of this route (`default` for the environment\'s route)' })),
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'dead-lettered at or after (epoch ms)' })),
  to: Type.Optional(Type.Integer({ minimum: 0, description: 'dead-lettered before (epoch ms)' })),
};
export const DeadLetterFilterQuery = Type.Object(DeadLetterFilterProps, { additionalProperties: false });
export type DeadLetterFilterQuery = Static<typeof DeadLetterFilterQuery>;
export const DeadLetterSearchQuery = Type.Object(
  { ...DeadLetterFilterProps, limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), after: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);

export const DeadLetterGroups = Type.Object(
  {
    groups: Type.Array(
      Type.Object(
        { reason: Type.String(), count: Type.Integer(), oldestAt: Nullable(Type.Integer()), newestAt: Nullable(Type.Integer()) },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'DeadLetterGroups', additionalProperties: false },
);

export const DeadLetterReplayJobRequest = Type.Object(DeadLetterFilterProps, {
  $id: 'DeadLetterReplayJobRequest',
  additionalProperties: false,
  description: 'replays every dead letter the filter covers (all of them when empty), in the background',
});
export type DeadLetterReplayJobRequest = Static<typeof DeadLetterReplayJobRequest>;

export const Job = Type.Object(
  {
    jobId: Type.String(),
    kind: Type.String({ description: '"dead_letter_replay" or "event_replay"' }),
    state: Type.Union(['running', 'done', 'failed', 'cancelled'].map((s) => Type.Literal(s))),
    done: Type.Integer({ description: 'work done so far (dead letters or events examined)' }),
    total: Nullable(Type.Integer({ description: 'work in all, when known up front' })),
    startedAt: Type.Integer(),
    finishedAt: Nullable(Type.Integer()),
    result: Type.Unknown({ description: 'once done: what the job produced (an EventReplayResult for an event replay); null before' }),
    error: Nullable(Type.String()),
  },
  { $id: 'Job', additionalProperties: false },
);

export const MappingPreview = Type.Object(
  {
    eventId: Type.String(),
    status: Type.Union([Type.Literal('mapped'), Type.Literal('unmapped'), Type.Literal('held')], { description: "held: the event's route is gone or does not list its org (issue 13)" }),
    warnings: Type.Array(Type.String()),
    messages: Type.Array(Type.Object({ kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]), message: Type.Unknown() }, { additionalProperties: false }), {
      description: 'what a replay of the event would queue, mapped now with the current mapper',
    }),
  },
  { $id: 'MappingPreview', additionalProperties: false },
);

export const ConsoleSummary = Type.Object(
  {
    now: Type.Integer(),
    queue: Type.Object({ pending: Type.Integer(), oldestPendingAgeMs: Type.Integer(), deadLetters: Type.Integer() }, { additionalProperties: false }),
    perMinute: Type.Array(Type.Object({ minute: Type.Integer(), accepted: Type.Integer(), delivered: Type.Integer() }, { additionalProperties: false }), {
      description: 'the last hour, one entry a minute, oldest first',
    }),
    deadLetters: Type.Array(Type.Object({ reason: Type.String(), count: Type.Integer() }, { additionalProperties: false })),
    token: Type.Object(
      { state: Type.Union(['valid', 'missing', 'not_used'].map((s) => Type.Literal(s))), expiresAt: Nullable(Type.Integer()), lastErrorCode: Nullable(Type.String()) },
      { additionalProperties: false },
    ),
    circuit: Type.Union([Type.Literal('closed'), Type.Literal('open')]),
  },
  { $id: 'ConsoleSummary', additionalProperties: false },
);

export const CONSOLE_SCHEMAS = [EventSearchPage, AttemptList, DeadLetterGroups, DeadLetterReplayJobRequest, Job, MappingPreview, ConsoleSummary];
