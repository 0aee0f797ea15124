import eventSchema from './standard/experience-event.flat.schema.json' with { type: 'json' };
import profileSchema from './standard/profile.flat.schema.json' with { type: 'json' };
import type { MessageKind } from '../mapping/types.js';
import { compileXdmSchema, type CompiledSchema } from './xdm-compile.js';

/**
 * The standard XDM schemas the relay ships (./standard/SOURCE.md): what messages are held to when the
 * customer's own schema cannot be read. Compiled once per process, on first use.
 */
export const STANDARD_SCHEMAS: Record<MessageKind, Record<string, unknown>> = { event: eventSchema, profile: profileSchema };

/**
 * The flat schemas accept any tenant object `_<tenantId>` but `_id` with a lookahead, which RE2 (the
 * only engine schema patterns run on) does not have. The same set of keys, without it: `_` and one
 * alphanumeric, or two but not `id`, or three and more (test/xdm-validation/xdm-compile.test.ts
 * compares the two on every short key).
 */
export const TENANT_KEY_LOOKAHEAD = '^_(?!id$)[A-Za-z0-9]+$';
export const TENANT_KEY_RE2 = '^_(?:[A-Za-z0-9]|[A-Za-hj-z0-9][A-Za-z0-9]|i[A-Za-ce-z0-9]|[A-Za-z0-9]{3,})$';

function forRe2(schema: Record<string, unknown>): Record<string, unknown> {
  const patterns = schema.patternProperties as Record<string, unknown> | undefined;
  if (!patterns || !(TENANT_KEY_LOOKAHEAD in patterns)) return schema;
  const { [TENANT_KEY_LOOKAHEAD]: tenant, ...rest } = patterns;
  return { ...schema, patternProperties: { ...rest, [TENANT_KEY_RE2]: tenant } };
}

const compiled = new Map<MessageKind, CompiledSchema>();

export function standardSchema(kind: MessageKind): CompiledSchema {
  let schema = compiled.get(kind);
  if (!schema) {
    schema = compileXdmSchema(forRe2(STANDARD_SCHEMAS[kind]));
    compiled.set(kind, schema);
  }
  return schema;
}
