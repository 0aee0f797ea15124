import { Type, type Static } from '@sinclair/typebox';
import { ACCOUNTING_SCHEMAS } from './accounting-schemas.js';
import { CONSOLE_SCHEMAS } from './console-schemas.js';
import { SETUP_CHECK_SCHEMAS } from './setup-check-schemas.js';

/**
 * Wire shapes of the relay's HTTP API, defined once: routes validate and serialize with them, and
 * test/http/openapi.test.ts proves openapi.yaml says the same.
 */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'stable error code' }),
    message: Type.String({ description: 'human sentence' }),
  },
  { $id: 'ErrorBody', additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const WebhookAccepted = Type.Object(
  {
    eventId: Type.String(),
    status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate')]),
  },
  { $id: 'WebhookAccepted', additionalProperties: false },
);
export type WebhookAccepted = Static<typeof WebhookAccepted>;

export const Health = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health', additionalProperties: false });

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    mode: Type.Union([Type.Literal('aep'), Type.Literal('dry-run')]),
    checks: Type.Object({
      store: Type.String({ description: '"ok" or why the store cannot commit' }),
      delivery: Type.String({ description: '"ok" or why the relay cannot deliver (e.g. no IMS token obtainable)' }),
      lifecycle: Type.String({ description: '"ok" or "shutting_down"' }),
    }),
  },
  { $id: 'Readiness', additionalProperties: false },
);
export type Readiness = Static<typeof Readiness>;

const Message = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]),
    state: Type.Union(['pending', 'in_flight', 'delivered', 'dead', 'skipped'].map((s) => Type.Literal(s))),
    attempts: Type.Integer(),
    nextAttemptAt: Type.Union([Type.Integer(), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()]),
    deadReason: Type.Union([Type.String(), Type.Null()]),
    deliveredAt: Type.Union([Type.Integer(), Type.Null()]),
    message: Type.Unknown({ description: 'the DCS message (header and body) as sent to Adobe' }),
  },
  { additionalProperties: false },
);

export const StoredEventBody = Type.Object(
  {
    eventId: Type.String(),
    eventName: Type.String(),
    envelope: Type.String({ description: 'flat, wrapped or internal' }),
    createdAt: Type.Union([Type.Integer(), Type.Null()]),
    receivedAt: Type.Integer(),
    mappingStatus: Type.Union([Type.Literal('mapped'), Type.Literal('unmapped'), Type.Literal('held')]),
    route: Type.String({ description: 'the route that received the event (issue 13); `default` for the environment\'s route' }),
    state: Type.Union(['unmapped', 'held', 'pending', 'delivered', 'dead', 'no_output'].map((s) => Type.Literal(s))),
    attempts: Type.Integer(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    messages: Type.Array(Message),
    payload: Type.Unknown({ description: 'the webhook body as received' }),
  },
  { $id: 'StoredEvent', additionalProperties: false },
);

export const DeadLetterPage = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          id: Type.Integer(),
          eventId: Type.String(),
          route: Type.String(),
          kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]),
          reason: Type.String(),
          error: Type.Union([Type.String(), Type.Null()]),
          attempts: Type.Integer(),
          deadAt: Type.Union([Type.Integer(), Type.Null()]),
          message: Type.Unknown(),
        },
        { additionalProperties: false },
      ),
    ),
    nextAfter: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as `after` for the next page; null on the last page' }),
  },
  { $id: 'DeadLetterPage', additionalProperties: false },
);

export const DeadLetterReplayRequest = Type.Union(
  [
    Type.Object({ ids: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false }),
    Type.Object({ all: Type.Literal(true) }, { additionalProperties: false }),
  ],
  { $id: 'DeadLetterReplayRequest' },
);
export type DeadLetterReplayRequest = Static<typeof DeadLetterReplayRequest>;

export const ReplayCount = Type.Object({ requeued: Type.Integer() }, { $id: 'ReplayCount', additionalProperties: false });

export const EventReplayRequest = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('unmapped'), Type.Literal('mapped'), Type.Literal('held')], { description: 'replay events in this mapping state; held: release events held for a wrong org, once the routes file lists it' })),
    eventIds: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 10_000 })),
    route: Type.Optional(Type.String({ minLength: 1, description: 'only events received by this route' })),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'events to examine: default 1000, at most 10,000 unless `background`; a background job defaults to every match' }),
    ),
    after: Type.Optional(Type.String({ description: 'keyset paging: continue after this event id' })),
    background: Type.Optional(Type.Boolean({ description: 'run as a background job: 202 with the job, to poll at /admin/jobs/{jobId}' })),
  },
  { $id: 'EventReplayRequest', additionalProperties: false },
);
export type EventReplayRequest = Static<typeof EventReplayRequest>;

export const EventReplayResult = Type.Object(
  {
    examined: Type.Integer(),
    requeued: Type.Integer({ description: 'events whose fresh mapping produced messages, now queued' }),
    stillUnmapped: Type.Integer(),
    stillHeld: Type.Optional(Type.Integer({ description: "held events whose org their route still does not list (or whose route is gone): fix the routes file, reload, replay again" })),
    busy: Type.Integer({ description: 'events skipped because a message was in flight; replay them again later' }),
    nextAfter: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'EventReplayResult', additionalProperties: false },
);

export const RouteList = Type.Object(
  {
    routes: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          path: Type.String({ description: 'where Capillary posts this route\'s webhooks' }),
          output: Type.Union([Type.Literal('xdm'), Type.Literal('source'), Type.Literal('raw')]),
          orgIds: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Capillary org ids accepted; null: any (the environment\'s route)' }),
          sink: Type.Union([Type.Literal('aep'), Type.Literal('dry-run')]),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'RouteList', additionalProperties: false },
);

export const RoutesReloaded = Type.Object(
  {
    added: Type.Array(Type.String()),
    removed: Type.Array(Type.String(), { description: 'routes no longer served: their queued messages stay stored, held, until a route of that id returns' }),
    changed: Type.Array(Type.String()),
    kept: Type.Array(Type.String()),
  },
  { $id: 'RoutesReloaded', additionalProperties: false },
);

/** Every named schema, registered once with Fastify (and listed in openapi.yaml components). */
export const SHARED_SCHEMAS = [ErrorBody, WebhookAccepted, Health, Readiness, StoredEventBody, DeadLetterPage, DeadLetterReplayRequest, ReplayCount, EventReplayRequest, EventReplayResult, RouteList, RoutesReloaded, ...CONSOLE_SCHEMAS, ...SETUP_CHECK_SCHEMAS, ...ACCOUNTING_SCHEMAS];
