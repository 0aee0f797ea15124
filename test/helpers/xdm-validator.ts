import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Validates XDM documents against the strict, flattened payload-form schemas copied from
 * shared/xdm (test/fixtures/xdm, see SOURCE.md there): what a real AEP schema would accept.
 */

// ajv-formats is CommonJS: under NodeNext the default import is module.exports, typed as the
// module namespace; the plugin is also module.exports.default, which is typed and works at runtime.
const addFormats = addFormatsModule.default;

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

function loadSchema(name: string): Record<string, unknown> {
  const url = new URL(`../fixtures/xdm/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

const experienceEvent = ajv.compile(loadSchema('experience-event.flat.schema.json'));
const profile = ajv.compile(loadSchema('profile.flat.schema.json'));

function errorsOf(validate: ValidateFunction, entity: unknown): string[] {
  if (validate(entity)) return [];
  return (validate.errors ?? []).map(describe);
}

function describe(error: ErrorObject): string {
  return `${error.instancePath || '/'} ${error.message ?? 'is invalid'} ${JSON.stringify(error.params)}`;
}

/** Errors (empty when valid) of an ExperienceEvent xdmEntity. */
export function validateExperienceEvent(entity: unknown): string[] {
  return errorsOf(experienceEvent, entity);
}

/** Errors (empty when valid) of a Profile record xdmEntity. */
export function validateProfile(entity: unknown): string[] {
  return errorsOf(profile, entity);
}

/** Validates any value against a schema compiled with the same ajv settings (e.g. the field group). */
export function compileSchema(schema: Record<string, unknown>): (value: unknown) => string[] {
  const validate = ajv.compile(schema);
  return (value) => errorsOf(validate, value);
}
