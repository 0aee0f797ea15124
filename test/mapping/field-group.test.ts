import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapEvent } from '../../src/mapping/map-event.js';
import type { MappingResult } from '../../src/mapping/types.js';
import { DOCUMENTED_EVENTS, SAMPLE_NAMES, buildEvent, sampleEvent } from '../helpers/capillary-fixtures.js';
import { compileSchema } from '../helpers/xdm-validator.js';
import { capillaryEvent, mappingOptionsArbitrary } from './arbitraries.js';
import { OPTION_MATRIX, TENANT_KEY, mappingOptions } from './options.js';

/**
 * deploy/aep/capillary-field-group.json is what users create in AEP: it must describe exactly the
 * `_<tenant>.capillary` fields the mapper sends. A field the mapper sends but the field group lacks
 * makes AEP reject the record; a field the field group has but the mapper never sends is clutter.
 */

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; items?: JsonSchema; [key: string]: unknown };

const fieldGroup = JSON.parse(
  readFileSync(new URL('../../deploy/aep/capillary-field-group.json', import.meta.url), 'utf8'),
) as { 'meta:intendedToExtend': string[]; definitions: Record<string, { properties: Record<string, JsonSchema> }>; allOf: Array<{ $ref: string }> };

const tenantObject = fieldGroup.definitions['capillary']?.properties['_{TENANT_ID}'];
const capillarySchema = tenantObject?.properties?.['capillary'];

/** The field group as a strict JSON Schema: no property beyond those declared, as in AEP. */
function strict(schema: JsonSchema): JsonSchema {
  const copy: JsonSchema = { ...schema };
  if (copy.properties !== undefined) {
    copy.properties = Object.fromEntries(Object.entries(copy.properties).map(([key, value]) => [key, strict(value)]));
    copy['additionalProperties'] = false;
  }
  if (copy.items !== undefined) copy.items = strict(copy.items);
  return copy;
}

const validateCapillary = compileSchema(strict(capillarySchema ?? {}) as Record<string, unknown>);

/** Leaf paths of a schema (`points.current`, `coupons[].id`, `customer.updatedFields[]`). */
function schemaLeaves(schema: JsonSchema, prefix = ''): string[] {
  if (schema.type === 'object') {
    return Object.entries(schema.properties ?? {}).flatMap(([key, value]) => schemaLeaves(value, prefix === '' ? key : `${prefix}.${key}`));
  }
  if (schema.type === 'array' && schema.items !== undefined) return schemaLeaves(schema.items, `${prefix}[]`);
  return [prefix];
}

/** Leaf paths of a value, in the same notation. */
function valueLeaves(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => valueLeaves(item, `${prefix}[]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => valueLeaves(item, prefix === '' ? key : `${prefix}.${key}`));
  }
  return [prefix];
}

function tenantObjectsOf(result: MappingResult): unknown[] {
  return result.messages.map((message) => (message.message.body.xdmEntity[TENANT_KEY] as { capillary?: unknown } | undefined)?.capillary);
}

describe('AEP field group for _<tenant>.capillary', () => {
  it('is an AEP Schema Registry field group for both ExperienceEvent and Profile', () => {
    expect(fieldGroup['meta:intendedToExtend']).toEqual([
      'https://ns.adobe.com/xdm/context/experienceevent',
      'https://ns.adobe.com/xdm/context/profile',
    ]);
    expect(fieldGroup.allOf).toEqual([{ $ref: '#/definitions/capillary' }]);
    expect(capillarySchema?.type).toBe('object');
    for (const leaf of schemaLeaves(capillarySchema ?? {})) expect(leaf).toMatch(/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*|\[\])*$/);
  });

  it('declares every field the mapper sends, with its type and format, and nothing it never sends', () => {
    const emitted = new Set<string>();
    const results = [
      ...DOCUMENTED_EVENTS.flatMap(([, name]) =>
        OPTION_MATRIX.filter(({ options }) => options.tenantId !== undefined).map(({ options }) => mapEvent(buildEvent(name), options)),
      ),
      ...SAMPLE_NAMES.map((name) => mapEvent(sampleEvent(name), mappingOptions())),
    ];
    for (const result of results) {
      for (const capillary of tenantObjectsOf(result)) {
        expect(capillary).toBeDefined();
        expect(validateCapillary(capillary)).toEqual([]);
        for (const leaf of valueLeaves(capillary)) emitted.add(leaf);
      }
    }
    expect([...emitted].sort()).toEqual(schemaLeaves(capillarySchema ?? {}).sort());
  });

  it('fits whatever the mapper makes of generated events', () => {
    fc.assert(
      fc.property(capillaryEvent, mappingOptionsArbitrary, (event, options) => {
        for (const capillary of tenantObjectsOf(mapEvent(event, options))) {
          if (capillary !== undefined) expect(validateCapillary(capillary)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
