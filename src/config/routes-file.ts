import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConfigError } from '../errors.js';
import { ROUTE_SECRET_VARIABLES, RouteSchema, type RouteEnv } from './env-schema.js';
import { buildRoute, ROUTE_ID_PATTERN, type RouteConfig } from './route-config.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
// Loaded and compiled on the first ROUTES_FILE only: most relays have none, and the YAML parser and
// this compiled schema are memory every relay would otherwise carry (docs/performance.md "Memory").
let validator: ValidateFunction<RouteEnv> | undefined;
const validateRoute = (value: unknown): value is RouteEnv => {
  if (!validator) {
    const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false, strict: false });
    addFormats(ajv);
    validator = ajv.compile<RouteEnv>(RouteSchema);
  }
  return validator(value);
};
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

/** Routes are few (one per brand); far more is a generated file gone wrong, and a metric label explosion. */
export const MAX_ROUTES = 200;

/**
 * Reads ROUTES_FILE (YAML, of which JSON is a subset): `routes: {<id>: {<setting>: value}}`, each
 * route checked by the same schema as the environment's settings. Secrets are never in the file:
 * `<NAME>_FILE` (a path) or `<NAME>_ENV` (the name of an environment variable) instead. Nothing is
 * inherited from the environment or from another route. Throws ConfigError naming
 * `ROUTES_FILE: routes.<id>.<setting>` and what was expected.
 */
export function loadRoutesFile(path: string, options: { environment: NodeJS.ProcessEnv; authDisabled: boolean }): RouteConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError('ROUTES_FILE', `a readable file (could not read ${path})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError('ROUTES_FILE', `YAML or JSON (${error instanceof Error ? error.message.split('\n')[0] : 'unreadable'})`);
  }
  const routes = (document as { routes?: unknown } | null)?.routes;
  if (routes === null || typeof routes !== 'object' || Array.isArray(routes) || Object.keys(routes).length === 0) {
    throw new ConfigError('ROUTES_FILE', 'a document with `routes:` mapping route ids to their settings (at least one)');
  }
  const entries = Object.entries(routes as Record<string, unknown>);
  if (entries.length > MAX_ROUTES) throw new ConfigError('ROUTES_FILE', `at most ${MAX_ROUTES} routes`);
  return entries.map(([id, settings]) => {
    const name = (variable: string) => `ROUTES_FILE: routes.${id}.${variable}`;
    if (!ROUTE_ID_PATTERN.test(id)) throw new ConfigError(`ROUTES_FILE: routes.${id}`, 'a route id of lowercase letters, digits, - and _ (at most 63), as it is a URL path segment');
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new ConfigError(`ROUTES_FILE: routes.${id}`, 'an object of settings');
    const env = resolveSecrets(settings as Record<string, unknown>, options.environment, name);
    if (!validateRoute(env)) {
      const error = validator?.errors?.[0];
      const variable = error?.keyword === 'additionalProperties' ? String(error.params['additionalProperty']) : error?.instancePath.replace(/^\//, '') || 'settings';
      const expected = error?.keyword === 'additionalProperties' ? 'a known route setting (see docs/configuration.md, "Several brands: the routes file")' : (error?.message ?? 'a valid value');
      throw new ConfigError(name(variable), expected);
    }
    return buildRoute(id, env as unknown as RouteEnv, { fromFile: true, authDisabled: options.authDisabled, name });
  });
}

/** Scalars as text (as in the environment); secrets read from `<NAME>_FILE` or `<NAME>_ENV`. */
function resolveSecrets(settings: Record<string, unknown>, environment: NodeJS.ProcessEnv, name: (variable: string) => string): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (value === null || value === undefined || value === '') continue;
    env[key] = typeof value === 'object' ? value : String(value);
  }
  for (const secret of ROUTE_SECRET_VARIABLES) {
    if (env[secret] !== undefined) {
      throw new ConfigError(name(secret), `no secret in the routes file: give ${secret}_FILE (a path) or ${secret}_ENV (an environment variable's name)`);
    }
    const file = env[`${secret}_FILE`];
    const variable = env[`${secret}_ENV`];
    delete env[`${secret}_FILE`];
    delete env[`${secret}_ENV`];
    if (file !== undefined && variable !== undefined) throw new ConfigError(name(`${secret}_FILE`), `either ${secret}_FILE or ${secret}_ENV, not both`);
    if (typeof file === 'string') {
      try {
        env[secret] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        throw new ConfigError(name(`${secret}_FILE`), `a readable file (could not read ${file})`);
      }
    } else if (typeof variable === 'string') {
      const value = environment[variable];
      if (value === undefined || value === '') throw new ConfigError(name(`${secret}_ENV`), `the name of a set environment variable (${variable} is unset)`);
      env[secret] = value;
    }
  }
  return env;
}
