import eventSchema from './standard/experience-event.flat.schema.json' with { type: 'json' };
import profileSchema from './standard/profile.flat.schema.json' with { type: 'json' };
import type { MessageKind } from '../mapping/types.js';
import { compileXdmSchema, type CompiledSchema } from './xdm-compile.js';

/**
 * The standard XDM schemas the relay ships (./standard/SOURCE.md): what messages are held to when the
 * customer's own schema cannot be read. Compiled once per process, on first use.
 */
export const STANDARD_SCHEMAS: Record<MessageKind, Record<string, unknown>> = { event: eventSchema, profile: profileSchema };

const compiled = new Map<MessageKind, CompiledSchema>();

export function standardSchema(kind: MessageKind): CompiledSchema {
  let schema = compiled.get(kind);
  if (!schema) {
    schema = compileXdmSchema(STANDARD_SCHEMAS[kind]);
    compiled.set(kind, schema);
  }
  return schema;
}
