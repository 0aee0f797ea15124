import { Type, type Static } from '@sinclair/typebox';
import { CHECK_NAMES } from '../setup-check/types.js';

/** Wire shapes of the setup check and the schema refresh (issue 16); listed in openapi.yaml. */
export const SetupCheckReport = Type.Object(
  {
    routes: Type.Array(
      Type.Object(
        {
          route: Type.String(),
          checks: Type.Array(
            Type.Object(
              {
                name: Type.Union(CHECK_NAMES.map((n) => Type.Literal(n))),
                status: Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail'), Type.Literal('skipped')]),
                detail: Type.String({ description: 'what was found' }),
                fix: Type.String({ description: 'one line: what to do (empty when nothing is to be done)' }),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'SetupCheckReport', additionalProperties: false },
);
export type SetupCheckReport = Static<typeof SetupCheckReport>;

export const SchemaRefreshResult = Type.Object(
  {
    routes: Type.Array(
      Type.Object(
        {
          route: Type.String(),
          schemas: Type.Array(
            Type.Object(
              {
                kind: Type.Union([Type.Literal('event'), Type.Literal('profile')]),
                schemaId: Type.String(),
                source: Type.Union([Type.Literal('customer'), Type.Literal('standard')], { description: "customer: the route's own schema from the Schema Registry; standard: the XDM schema the relay ships (the customer's could not be read)" }),
                fetchedAt: Type.Union([Type.Integer(), Type.Null()], { description: "epoch ms of the last successful read of the customer's schema" }),
                lastError: Type.Union([Type.String(), Type.Null()], { description: 'why the last read failed' }),
                unchecked: Type.Array(Type.String(), { description: "rules of the customer's schema the relay cannot check" }),
              },
              { additionalProperties: false },
            ),
            { description: 'empty when the route checks no schema (AEP_SCHEMA_VALIDATION=off, dry-run, raw or source output)' },
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'SchemaRefreshResult', additionalProperties: false },
);
export type SchemaRefreshResult = Static<typeof SchemaRefreshResult>;

export const SETUP_CHECK_SCHEMAS = [SetupCheckReport, SchemaRefreshResult];
