import corpus from './corpus.json' with { type: 'json' };
import type { CapillaryEvent } from '../mapping/capillary-event.js';
import { mapEvent } from '../mapping/map-event.js';
import type { MappingOptions, MessageKind } from '../mapping/types.js';
import { isLinear, linearRegExp } from '../xdm-validation/linear-regexp.js';
import { compileXdmSchema } from '../xdm-validation/xdm-compile.js';

/**
 * Which fields a route can write, learnt from the mapper itself: every documented Capillary event
 * (./corpus.json, built from the test fixtures; a test keeps it in step) mapped with the route's own
 * options. No hand-kept list of paths: a field the mapper starts writing is checked the day it does.
 */
export function mappedEntities(options: MappingOptions): Array<{ kind: MessageKind; eventName: string; entity: Record<string, unknown> }> {
  return (corpus as unknown as CapillaryEvent[]).flatMap((event) =>
    mapEvent(event, options).messages.map(({ kind, message }) => ({ kind, eventName: event.eventName, entity: message.body.xdmEntity })),
  );
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Paths of `entity` the schema has no field for, as dotted paths (`_acmecorp.capillary`,
 * `productListItems[].SKU`): the shortest one of each branch (a missing tenant object is one path,
 * not the fifty fields under it). Map keys (identityMap namespaces) are checked against the map's
 * value schema. A bare object with no listed properties takes anything.
 */
export function missingPaths(schema: Json, entity: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(entity)) {
    const items = isRecord(schema.items) ? schema.items : undefined;
    if (items) for (const item of entity) missingPaths(items, item, `${prefix}[]`, out);
    return out;
  }
  if (!isRecord(entity)) return out;
  const properties = isRecord(schema.properties) ? schema.properties : undefined;
  // Customer patterns run on RE2 (linear time); one RE2 cannot run matches no key.
  const patterns = isRecord(schema.patternProperties) ? Object.entries(schema.patternProperties).filter(([p]) => isLinear(p)).map(([p, sub]) => [linearRegExp(p), sub] as const) : [];
  for (const [key, value] of Object.entries(entity)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const declared = properties?.[key];
    const pattern = patterns.find(([p]) => p.test(key))?.[1];
    const sub = isRecord(declared) ? declared : isRecord(pattern) ? pattern : isRecord(schema.additionalProperties) ? schema.additionalProperties : undefined;
    if (sub) missingPaths(sub, value, isRecord(declared) || isRecord(pattern) ? path : `${prefix}.*`.replace(/^\./, ''), out);
    else if (properties !== undefined || schema.additionalProperties === false) out.add(path);
  }
  return out;
}

export interface Coverage {
  /** Fields the route writes that the schema lacks (dotted paths, sorted). */
  missing: string[];
  /** Other ways the mapped corpus does not fit (a type, a format, a required field), first few. */
  misfits: string[];
  /** Messages checked. */
  messages: number;
}

/** The route's mapped corpus of `kind` against the customer's schema of that kind. */
export function coverage(schema: Json, kind: MessageKind, options: MappingOptions): Coverage {
  const entities = mappedEntities(options).filter((e) => e.kind === kind);
  const missing = new Set<string>();
  for (const { entity } of entities) missingPaths(schema, entity, '', missing);
  const { check } = compileXdmSchema(schema);
  const misfits = new Set<string>();
  for (const { entity, eventName } of entities) {
    const mismatch = check(entity);
    if (!mismatch) continue;
    // Extraneous keys are the missing paths above; the rest are other rules.
    const other = mismatch.message.split('; ').filter((line) => !line.includes('extraneous key'));
    for (const line of other) if (misfits.size < 5) misfits.add(`${line.replace(/ \(and more\)$/, '')} (${eventName})`);
  }
  return { missing: [...missing].sort(), misfits: [...misfits], messages: entities.length };
}
