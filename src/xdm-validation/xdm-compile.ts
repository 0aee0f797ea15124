import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isLinear, linearRegExpEngine } from './linear-regexp.js';

/**
 * Compiles an XDM schema (a resolved `xed-full+json; version=1` document from the Schema Registry, or
 * a shipped standard one) into a check of one `xdmEntity`, the way Adobe checks streaming records:
 * type, format, enum, pattern, range, length, required, and no key the schema does not declare
 * ("extraneous key [x] is not permitted"). Adobe does not promise its documents compile in a JSON
 * Schema validator as they are, so a copy keeps only validation keywords (the `meta:*` ones say
 * nothing a validator checks), closes every object that lists its properties, and drops what cannot
 * be checked here (a pattern RE2 cannot run in linear time, a `$ref` outside the document), counting
 * each drop. Patterns run on RE2 (./linear-regexp.ts): the customer's schema comes from outside.
 */

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface SchemaMismatch {
  /** JSON pointers into the xdmEntity, first few only. */
  paths: string[];
  /** One line naming those paths and the rule each breaks (never a value: values are personal data). */
  message: string;
}

export type EntityCheck = (entity: unknown) => SchemaMismatch | undefined;

export interface CompiledSchema {
  check: EntityCheck;
  /** What the copy left out because it cannot be checked here, e.g. `pattern at /properties/x`. */
  dropped: string[];
}

/** The rules, as Adobe's validation applies them. */
const KEYWORDS = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', 'additionalItems',
  'enum', 'const', 'format', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties',
  'allOf', 'anyOf', 'oneOf', 'not', '$ref', 'definitions', 'propertyNames', 'contains', 'dependencies',
]);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf']);
const SCHEMA_ONE = new Set(['additionalProperties', 'additionalItems', 'not', 'propertyNames', 'contains']);
/** Paths named in a mismatch: enough to fix the schema, short enough for a log line. */
const MAX_PATHS = 5;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The validation-only, closed copy of `schema` (exported for tests and the setup check). */
export function strictCopy(schema: Json): { schema: Json; dropped: string[] } {
  const dropped: string[] = [];
  const copy = (node: unknown, at: string): Json => {
    if (!isRecord(node)) return {};
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      if (!KEYWORDS.has(key)) continue;
      if (key === 'patternProperties' && isRecord(value)) {
        // The keys are patterns too: one RE2 cannot run is left out (its keys then count as undeclared).
        const kept = Object.entries(value).filter(([p]) => isLinear(p) || (dropped.push(`patternProperties ${p} at ${at || '/'}`), false));
        out[key] = Object.fromEntries(kept.map(([k, v]) => [k, copy(v, `${at}/${key}/${k}`)]));
      } else if (SCHEMA_MAPS.has(key) && isRecord(value)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v, `${at}/${key}/${k}`)]));
      else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map((v, i) => copy(v, `${at}/${key}/${i}`));
      else if (SCHEMA_ONE.has(key) && isRecord(value)) out[key] = copy(value, `${at}/${key}`);
      else if (key === 'items') out[key] = Array.isArray(value) ? value.map((v, i) => copy(v, `${at}/items/${i}`)) : copy(value, `${at}/items`);
      else if (key === 'pattern') {
        if (typeof value === 'string' && isLinear(value)) out[key] = value;
        else dropped.push(`pattern at ${at || '/'}`);
      } else if (key === '$ref') {
        if (typeof value === 'string' && value.startsWith('#/definitions/')) out[key] = value;
        else dropped.push(`$ref ${String(value)} at ${at || '/'}`);
      } else if (key === 'required') {
        // Draft-03 style `required: true` on a property is not a rule ajv reads; an array is.
        if (Array.isArray(value)) out[key] = value;
      } else out[key] = value;
    }
    // Adobe refuses a key its schema does not declare: close every object that lists its properties
    // and says nothing itself about others. Objects combined with allOf/anyOf/oneOf stay as they are
    // (closing one branch would refuse the other branches' keys); resolved documents have none.
    const combined = [...SCHEMA_LISTS].some((k) => k in out);
    if (isRecord(out.properties) && !('additionalProperties' in out) && !('patternProperties' in out) && !combined) out.additionalProperties = false;
    return out;
  };
  return { schema: copy(schema, ''), dropped };
}

/** Compiles once per schema version; the check then costs one ajv run per message. */
export function compileXdmSchema(schema: Json): CompiledSchema {
  const { schema: strict, dropped } = strictCopy(schema);
  // One ajv per schema version: a refreshed schema replaces the instance and whatever it cached.
  // No optimizing pass: it halves the compile (the event loop's one stall per schema version, about
  // 25-50 ms for both of a route's schemas on this machine) and checks no slower (bench:schema-validation).
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false, addUsedSchema: false, code: { optimize: false, regExp: linearRegExpEngine } });
  // The formats' own expressions are ajv-formats' (fast mode, as everywhere in the relay).
  addFormats(ajv);
  // XDM's own formats beyond JSON Schema's are not checked (as an unknown format in any validator).
  const unknownFormats = collectFormats(strict).filter((f) => !ajv.formats[f]);
  for (const format of unknownFormats) {
    ajv.addFormat(format, true);
    dropped.push(`format ${format}`);
  }
  const validate = ajv.compile(strict);
  return { check: (entity) => verdict(validate, entity), dropped };
}

function collectFormats(node: unknown, out = new Set<string>()): string[] {
  if (Array.isArray(node)) for (const n of node) collectFormats(n, out);
  else if (isRecord(node)) {
    if (typeof node.format === 'string') out.add(node.format);
    for (const value of Object.values(node)) if (typeof value === 'object') collectFormats(value, out);
  }
  return [...out];
}

function verdict(validate: ValidateFunction, entity: unknown): SchemaMismatch | undefined {
  if (validate(entity)) return undefined;
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const error of validate.errors ?? []) {
    const { path, rule } = describe(error);
    // anyOf/oneOf report a summary beside each branch's own error: one line per path is enough.
    if (seen.has(path) || error.keyword === 'anyOf' || error.keyword === 'oneOf' || error.keyword === 'if') continue;
    seen.add(path);
    lines.push(`${path}: ${rule}`);
    if (seen.size >= MAX_PATHS) break;
  }
  const paths = [...seen];
  const more = (validate.errors?.length ?? 0) > lines.length ? ' (and more)' : '';
  return { paths, message: lines.join('; ') + more };
}

/** Where and which rule, in words close to Adobe's own messages; no value is ever quoted. */
function describe(error: ErrorObject): { path: string; rule: string } {
  const at = error.instancePath || '';
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return { path: `${at}/${escape(String(p.additionalProperty))}`, rule: `extraneous key [${String(p.additionalProperty)}] is not permitted` };
    case 'required':
      return { path: `${at}/${escape(String(p.missingProperty))}`, rule: `required key [${String(p.missingProperty)}] not found` };
    case 'type':
      return { path: at || '/', rule: `expected type ${String(p.type)}` };
    case 'format':
      return { path: at || '/', rule: `not a valid ${String(p.format)}` };
    case 'enum':
      return { path: at || '/', rule: `not one of the schema's ${Array.isArray(p.allowedValues) ? p.allowedValues.length : ''} allowed values`.replace('  ', ' ') };
    case 'const':
      return { path: at || '/', rule: 'not the one allowed value' };
    case 'pattern':
      return { path: at || '/', rule: `does not match pattern ${String(p.pattern)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path: at || '/', rule: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
      return { path: at || '/', rule: `${error.keyword} is ${String(p.limit)}` };
    default:
      return { path: at || '/', rule: `breaks ${error.keyword}` };
  }
}

const escape = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
