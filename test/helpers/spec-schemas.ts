import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

/**
 * The response schemas of Adobe's own API specs (test/fixtures/adobe-api-specs, Swagger 2 and
 * OpenAPI 3.0), as validators for the fake Platform API's answers. The light conversion OpenAPI
 * needs for a JSON Schema validator is done here on a copy: `nullable`, draft-04 boolean
 * `exclusiveMinimum`/`exclusiveMaximum`, Swagger's `type: file`, and OpenAPI-only formats. `$ref`s stay
 * JSON pointers into the document, which ajv resolves once the document is added under its file name.
 *
 * Adobe's schemas rarely close their objects, so ajv alone would accept any invented field. The
 * `undeclared` check reports keys of the answer that the spec does not declare where it lists the
 * properties of an object (through `$ref`, `allOf`, `anyOf`, `oneOf`), unless the test names them as
 * known to exist (the shared reference notes where Adobe's answers carry more than its spec).
 */
const addFormats = addFormatsModule.default;
const SPEC_DIR = new URL('../fixtures/adobe-api-specs/', import.meta.url);

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
addFormats(ajv);
const documents = new Map<string, Json>();

function convert(node: unknown, formats: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, formats));
  if (!isRecord(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    // Examples are data, not schema, and hold `$id`s that ajv (walking every key) would take as
    // schema ids: the validator has no use for them.
    if (key === 'example' || key === 'examples') continue;
    out[key] = convert(value, formats);
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof out[flag] !== 'boolean') continue;
    if (out[flag] === true && typeof out[bound] === 'number') {
      out[flag] = out[bound];
      delete out[bound];
    } else delete out[flag];
  }
  if (out.type === 'file') delete out.type;
  if (typeof out.format === 'string') formats.add(out.format);
  return out;
}

function load(file: string): Json {
  const known = documents.get(file);
  if (known) return known;
  const formats = new Set<string>();
  const doc = convert(parseYaml(readFileSync(new URL(file, SPEC_DIR), 'utf8')), formats) as Json;
  // int32, int64, binary...: OpenAPI's own formats say nothing a JSON validator can check.
  for (const format of formats) if (!ajv.formats[format]) ajv.addFormat(format, true);
  ajv.addSchema(doc, file);
  documents.set(file, doc);
  return doc;
}

const pointerPart = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** Where the spec keeps the 200 (or other) answer's schema of `method path`, as a JSON pointer. */
export function responseSchemaPointer(file: string, method: string, path: string, status: number | string = 200, mediaType = 'application/json'): string {
  const doc = load(file);
  const operation = (doc.paths as Record<string, Record<string, { responses?: Record<string, Json> }>> | undefined)?.[path]?.[method.toLowerCase()];
  const response = operation?.responses?.[String(status)];
  if (!response) throw new Error(`${file}: no ${status} answer for ${method} ${path}`);
  const base = `#/paths/${pointerPart(path)}/${method.toLowerCase()}/responses/${status}`;
  if (isRecord(response.schema)) return `${base}/schema`;
  const content = response.content;
  if (isRecord(content) && isRecord(content[mediaType]) && isRecord((content[mediaType] as Json).schema)) return `${base}/content/${pointerPart(mediaType)}/schema`;
  throw new Error(`${file}: the ${status} answer of ${method} ${path} has no ${mediaType} schema`);
}

function resolve(file: string, pointer: string): Json {
  let node: unknown = load(file);
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    node = (node as Json)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  if (!isRecord(node)) throw new Error(`${file}: ${pointer} is not a schema`);
  return node;
}

const validators = new Map<string, ValidateFunction>();

export interface SpecCheck {
  /** ajv's verdict against the spec's schema. */
  errors: string[];
  /** Keys of the answer the spec does not declare (JSON pointers of the answer). */
  undeclared: string[];
}

/**
 * Checks `body` against the response schema of `method path` in `file`. `known` lists pointers of
 * the answer (with `*` for any one segment) that may hold keys the spec does not declare.
 */
export function checkAgainstSpec(file: string, method: string, path: string, body: unknown, options: { status?: number; mediaType?: string; known?: string[] } = {}): SpecCheck {
  const pointer = responseSchemaPointer(file, method, path, options.status ?? 200, options.mediaType);
  const key = `${file}${pointer}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile({ $ref: `${file}${pointer}` });
    validators.set(key, validate);
  }
  const errors = validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'} ${JSON.stringify(e.params)}`);
  const undeclared: string[] = [];
  const known = (options.known ?? []).map((k) => new RegExp(`^${k.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`));
  walk(file, [resolve(file, pointer)], body, '', undeclared, known);
  return { errors, undeclared };
}

/** Every branch a value may be checked against, `$ref`s followed. */
function branches(file: string, schemas: Json[], seen = new Set<Json>()): Json[] {
  const out: Json[] = [];
  for (const schema of schemas) {
    if (seen.has(schema)) continue;
    seen.add(schema);
    if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) out.push(...branches(file, [resolve(file, schema.$ref)], seen));
    out.push(schema);
    for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = schema[keyword];
      if (Array.isArray(list)) out.push(...branches(file, list.filter(isRecord), seen));
    }
  }
  return out;
}

function walk(file: string, schemas: Json[], value: unknown, at: string, out: string[], known: RegExp[]): void {
  const all = branches(file, schemas);
  if (Array.isArray(value)) {
    const items = all.map((s) => s.items).filter(isRecord);
    if (items.length > 0) value.forEach((item, i) => walk(file, items, item, `${at}/${i}`, out, known));
    return;
  }
  if (!isRecord(value)) return;
  const declared = new Map<string, Json[]>();
  let open = false;
  const extra: Json[] = [];
  for (const s of all) {
    if (isRecord(s.properties)) for (const [name, sub] of Object.entries(s.properties)) if (isRecord(sub)) declared.set(name, [...(declared.get(name) ?? []), sub]);
    if (s.additionalProperties === true || isRecord(s.patternProperties)) open = true;
    if (isRecord(s.additionalProperties)) extra.push(s.additionalProperties);
  }
  // A schema that lists no properties (a free object, a map, `properties: {}`) says nothing about keys.
  const listsProperties = all.some((s) => isRecord(s.properties) && Object.keys(s.properties).length > 0);
  for (const [key, child] of Object.entries(value)) {
    const path = `${at}/${pointerPart(key)}`;
    const subs = declared.get(key) ?? extra;
    if (subs.length > 0) walk(file, subs, child, path, out, known);
    else if (listsProperties && !open && !known.some((k) => k.test(path))) out.push(path);
  }
}
