import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapEvent } from '../../src/mapping/map-event.js';
import { linearRegExp } from '../../src/xdm-validation/linear-regexp.js';
import { STANDARD_SCHEMAS, standardSchema, TENANT_KEY_LOOKAHEAD, TENANT_KEY_RE2 } from '../../src/xdm-validation/standard-schemas.js';
import { compileXdmSchema, strictCopy } from '../../src/xdm-validation/xdm-compile.js';
import { corpusFromFixtures } from '../setup-check/corpus-fixtures.js';
import { OPTION_MATRIX } from '../mapping/options.js';

/**
 * The validator's verdicts against Adobe's documented streaming validation rules
 * (/work/shared/reference/adobe-platform-apis.md, "Schema Registry"): unknown keys are refused
 * ("extraneous key [workEmail] is not permitted"), and type, format, enum, pattern, range and presence
 * are checked. One test per rule, each on a resolved document shaped as the Schema Registry answers
 * (`meta:*` keywords, draft-06 `$schema`, titles), so the copy that compiles is proven too.
 */

const DOC = {
  $id: 'https://ns.adobe.com/acmecorp/schemas/event-1',
  $schema: 'http://json-schema.org/draft-06/schema#',
  'meta:class': 'https://ns.adobe.com/xdm/context/experienceevent',
  'meta:altId': '_acmecorp.schemas.event-1',
  title: 'Events',
  type: 'object',
  required: ['_id', 'timestamp'],
  properties: {
    _id: { type: 'string', title: 'Identifier', 'meta:xdmType': 'string' },
    timestamp: { type: 'string', format: 'date-time', 'meta:xdmType': 'date-time' },
    eventType: { type: 'string', enum: ['loyalty.pointsIssued', 'loyalty.tierUpgraded'], 'meta:enum': { x: 'suggested' } },
    loyalty: {
      type: 'object',
      'meta:xdmType': 'object',
      properties: {
        points: { type: 'number', minimum: 0, maximum: 1_000_000 },
        tier: { type: 'string', pattern: '^[A-Z]+$', maxLength: 20 },
        tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      },
    },
    identityMap: { type: 'object', 'meta:xdmType': 'map', additionalProperties: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, primary: { type: 'boolean' } } } } },
    _acmecorp: { type: 'object', properties: { capillary: { type: 'object', properties: { eventName: { type: 'string' }, email: { type: 'string', format: 'email' } } } } },
  },
};

const good = () => ({
  _id: 'evt-1',
  timestamp: '2026-01-01T00:00:00Z',
  eventType: 'loyalty.pointsIssued',
  loyalty: { points: 10, tier: 'GOLD', tags: [{ name: 'a' }] },
  identityMap: { CapillaryId: [{ id: '42', primary: true }] },
  _acmecorp: { capillary: { eventName: 'pointsIssued', email: 'member@example.com' } },
});

const { check } = compileXdmSchema(DOC);

describe("validator verdicts, one per Adobe's rule", () => {
  it('a record that fits passes', () => {
    expect(check(good())).toBeUndefined();
  });

  it('extraneous key: a key the schema lacks is refused, at any depth, in array items too', () => {
    const top = { ...good(), workEmail: 'x@example.com' };
    expect(check(top)).toMatchObject({ paths: ['/workEmail'], message: '/workEmail: extraneous key [workEmail] is not permitted' });
    const deep = good();
    (deep._acmecorp.capillary as Record<string, unknown>).orgId = '1';
    expect(check(deep)?.paths).toEqual(['/_acmecorp/capillary/orgId']);
    const inItems = good();
    (inItems.loyalty.tags[0] as Record<string, unknown>).colour = 'red';
    expect(check(inItems)?.paths).toEqual(['/loyalty/tags/0/colour']);
  });

  it('a missing tenant field group refuses the whole tenant object', () => {
    const { _acmecorp: _drop, ...rest } = DOC.properties;
    const withoutTenant = compileXdmSchema({ ...DOC, properties: rest });
    expect(withoutTenant.check(good())?.message).toContain('/_acmecorp: extraneous key [_acmecorp] is not permitted');
  });

  it('maps (additionalProperties given) take any key, their values still checked', () => {
    expect(check({ ...good(), identityMap: { Email: [{ id: 'a' }], Phone: [{ id: 'b' }] } })).toBeUndefined();
    expect(check({ ...good(), identityMap: { Email: [{ id: 7 }] } })?.message).toBe('/identityMap/Email/0/id: expected type string');
  });

  it('wrong type', () => {
    const record = good();
    (record.loyalty as Record<string, unknown>).points = '10';
    expect(check(record)?.message).toBe('/loyalty/points: expected type number');
  });

  it('format: date-time and email', () => {
    expect(check({ ...good(), timestamp: '2026-01-01 00:00' })?.message).toBe('/timestamp: not a valid date-time');
    const record = good();
    record._acmecorp.capillary.email = 'not-an-email';
    expect(check(record)?.message).toBe('/_acmecorp/capillary/email: not a valid email');
  });

  it('enum (meta:enum is only a suggestion and is not enforced)', () => {
    expect(check({ ...good(), eventType: 'loyalty.other' })?.message).toBe("/eventType: not one of the schema's 2 allowed values");
  });

  it('pattern and length', () => {
    const record = good();
    record.loyalty.tier = 'gold';
    expect(check(record)?.message).toBe('/loyalty/tier: does not match pattern ^[A-Z]+$');
    record.loyalty.tier = 'G'.repeat(21);
    expect(check(record)?.message).toBe('/loyalty/tier: maxLength is 20');
  });

  it('range', () => {
    const record = good();
    record.loyalty.points = -1;
    expect(check(record)?.message).toBe('/loyalty/points: must be >= 0');
    record.loyalty.points = 2_000_000;
    expect(check(record)?.message).toBe('/loyalty/points: must be <= 1000000');
  });

  it('required', () => {
    const { _id: _drop, ...record } = good();
    expect(check(record)).toMatchObject({ paths: ['/_id'], message: '/_id: required key [_id] not found' });
  });

  it('names several paths, at most five, and never a value', () => {
    const record = { ...good(), a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, timestamp: 'secret-looking@example.com' };
    const mismatch = check(record)!;
    expect(mismatch.paths).toHaveLength(5);
    expect(mismatch.message).toContain('(and more)');
    expect(mismatch.message).not.toContain('secret-looking');
  });
});

describe('the copy that compiles', () => {
  it('keeps validation keywords only, closes objects that list properties, leaves maps and bare objects open', () => {
    const { schema } = strictCopy(DOC);
    expect(Object.keys(schema).sort()).toEqual(['additionalProperties', 'properties', 'required', 'type']);
    const props = schema.properties as Record<string, Record<string, unknown>>;
    expect(props.loyalty!.additionalProperties).toBe(false);
    expect(props.identityMap!.additionalProperties).toMatchObject({ type: 'array' });
    expect(strictCopy({ type: 'object' }).schema).toEqual({ type: 'object' });
  });

  it('drops what cannot be checked here (and says so) instead of failing to compile', () => {
    const odd = { type: 'object', properties: { a: { type: 'string', pattern: '(?<=x)y' }, b: { $ref: 'https://ns.adobe.com/xdm/elsewhere' }, c: { type: 'string', format: 'xdm-special' } }, patternProperties: { '^(?!z)': { type: 'string' } } };
    const compiled = compileXdmSchema(odd);
    expect(compiled.dropped).toEqual(['pattern at /properties/a', '$ref https://ns.adobe.com/xdm/elsewhere at /properties/b', 'patternProperties ^(?!z) at /', 'format xdm-special']);
    expect(compiled.check({ a: 'anything', c: 'x' })).toBeUndefined();
  });

  it("runs the schema's patterns in linear time (RE2): a catastrophic pattern on a long value answers at once", () => {
    const { check: evil } = compileXdmSchema({ type: 'object', properties: { a: { type: 'string', pattern: '^(a+)+$' } } });
    const started = performance.now();
    expect(evil({ a: `${'a'.repeat(30_000)}!` })?.message).toBe('/a: does not match pattern ^(a+)+$');
    expect(evil({ a: 'aaaa' })).toBeUndefined();
    // V8's backtracking engine would take longer than the age of the universe here.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('compiles the same document twice (a refresh) without an id clash', () => {
    expect(() => compileXdmSchema(DOC)).not.toThrow();
  });
});

describe('the standard schemas the relay ships', () => {
  it('are the test fixtures (test/fixtures/xdm)', () => {
    for (const [kind, file] of [['event', 'experience-event'], ['profile', 'profile']] as const) {
      expect(STANDARD_SCHEMAS[kind]).toEqual(JSON.parse(readFileSync(new URL(`../fixtures/xdm/${file}.flat.schema.json`, import.meta.url), 'utf8')));
    }
  });

  it("their tenant-key pattern, rewritten for RE2, takes the same keys as the original's lookahead", () => {
    const chars = ['', ...'_aidzIDZ09'];
    const keys = chars.flatMap((a) => chars.flatMap((b) => chars.flatMap((c) => chars.map((d) => `${a}${b}${c}${d}`))));
    const original = new RegExp(TENANT_KEY_LOOKAHEAD, 'u');
    const rewritten = linearRegExp(TENANT_KEY_RE2);
    expect(keys.filter((k) => original.test(k) !== rewritten.test(k))).toEqual([]);
    expect(rewritten.test('_acmecorp') && !rewritten.test('_id') && rewritten.test('_i') && rewritten.test('_idx')).toBe(true);
  });

  it('closed as Adobe checks, accept every message the mapper makes of the corpus under every option set', () => {
    const failures: string[] = [];
    for (const { label, options } of OPTION_MATRIX) {
      for (const event of corpusFromFixtures()) {
        for (const { kind, message } of mapEvent(event, options).messages) {
          const mismatch = standardSchema(kind).check(message.body.xdmEntity);
          if (mismatch) failures.push(`${label} ${event.eventName} ${kind}: ${mismatch.message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
