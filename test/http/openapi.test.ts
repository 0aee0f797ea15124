import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import relayApp, { serverOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { SHARED_SCHEMAS } from '../../src/http/schemas.js';
import { createLogger } from '../../src/logger.js';
import { ADMIN_TOKEN, LogCapture, TEST_SECRET } from '../helpers/build-app.js';

/**
 * openapi.yaml is the contract operators and Capillary integrators read; src/http/schemas.ts is what
 * the routes validate and serialize with. This test fails when the two say different things.
 */

interface Operation {
  responses?: Record<string, { $ref?: string; content?: Record<string, { schema?: { $ref?: string } }> }>;
  requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
}
interface OpenApi {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation> & { servers?: { url: string }[] }>;
  components: {
    schemas: Record<string, unknown>;
    responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  };
}

const root = join(import.meta.dirname, '..', '..');
const spec = parse(readFileSync(join(root, 'openapi.yaml'), 'utf8')) as OpenApi;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Fastify's `/a/:b` is OpenAPI's `/a/{b}`. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** The named schema an OpenAPI response (possibly a `$ref` to components/responses) carries as JSON. */
function jsonSchemaRef(response: NonNullable<Operation['responses']>[string] | undefined): string | undefined {
  if (!response) return undefined;
  if (response.$ref) {
    const name = response.$ref.replace('#/components/responses/', '');
    return spec.components.responses[name]?.content?.['application/json']?.schema?.$ref;
  }
  return response.content?.['application/json']?.schema?.$ref;
}
const schemaRef = (id: string) => `#/components/schemas/${id}`;
const idOf = (schema: unknown) => (schema && typeof schema === 'object' && '$id' in schema ? String((schema as { $id: unknown }).$id) : undefined);

const routes: RouteOptions[] = [];
const apps: FastifyInstance[] = [];
let dir: string;

/** Built as buildTestApp (and server.ts) builds it, with an onRoute hook in front to see every route. */
async function buildApp(env: Record<string, string>): Promise<void> {
  const config = loadConfig({ ADMIN_TOKEN, STORE_URL: `sqlite:${join(dir, `relay-${apps.length}.db`)}`, LOG_LEVEL: 'silent', ...env });
  const app = Fastify(serverOptions(config, createLogger({ level: 'silent' }, new LogCapture())));
  apps.push(app);
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  await app.register(relayApp, { config });
  await app.ready();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relay-openapi-'));
  // The contract covers both ways to run: the environment as the one route (/webhooks/capillary),
  // and a routes file (/webhooks/capillary/{routeId}, issue 13).
  await buildApp({ CAPILLARY_AUTH_SECRETS: TEST_SECRET, DRY_RUN_FILE: join(dir, 'dry-run.ndjson') });
  writeFileSync(join(dir, 'brand-a-webhook'), TEST_SECRET);
  writeFileSync(join(dir, 'routes.yaml'), `routes:\n  brand-a:\n    CAPILLARY_ORG_IDS: "150698"\n    CAPILLARY_AUTH_SECRETS_FILE: ${join(dir, 'brand-a-webhook')}\n    DRY_RUN_FILE: ${join(dir, 'brand-a.ndjson')}\n`);
  await buildApp({ ROUTES_FILE: join(dir, 'routes.yaml') });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Each route once: Fastify's automatic HEAD twin of a GET route is not part of the contract. */
function appOperations(): Map<string, RouteOptions> {
  const byKey = new Map<string, RouteOptions>();
  for (const route of routes) {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) byKey.set(key(method, toOpenApiPath(route.url)), route);
  }
  for (const k of [...byKey.keys()]) {
    if (k.startsWith('HEAD ') && byKey.has(k.replace(/^HEAD /, 'GET '))) byKey.delete(k);
  }
  return byKey;
}

function specOperations(): Map<string, Operation> {
  const ops = new Map<string, Operation>();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) if (HTTP_METHODS.has(method)) ops.set(key(method, path), op as Operation);
  }
  return ops;
}

describe('openapi.yaml agrees with the routes', () => {
  it('is OpenAPI 3.1', () => {
    expect(spec.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it("names, for each path, the listener its route is served on (public, operations, or both)", () => {
    const [publicServer, opsServer] = spec.servers.map((server) => server.url);
    for (const route of appOperations().values()) {
      const listener = (route.config as { listener?: string } | undefined)?.listener ?? 'ops';
      const documented = spec.paths[toOpenApiPath(route.url)]?.servers?.map((server) => server.url) ?? [publicServer, opsServer];
      const expected = listener === 'public' ? [publicServer] : listener === 'ops' ? [opsServer] : [publicServer, opsServer];
      expect(documented, `${route.url} (${listener})`).toEqual(expected);
    }
  });

  it('documents exactly the method and path pairs the app registers', () => {
    const registered = [...appOperations().keys()].sort();
    expect(registered.length).toBeGreaterThanOrEqual(8);
    expect([...specOperations().keys()].sort()).toEqual(registered);
  });

  it('has, under components/schemas, exactly the TypeBox schemas of src/http/schemas.ts, named by $id', () => {
    const typebox = Object.fromEntries(SHARED_SCHEMAS.map((s) => [s.$id, JSON.parse(JSON.stringify(s)) as unknown]));
    expect(Object.keys(spec.components.schemas).sort()).toEqual(Object.keys(typebox).sort());
    for (const [id, schema] of Object.entries(typebox)) expect(spec.components.schemas[id], id).toStrictEqual(schema);
  });

  it("lists every status code each route's response schema declares, with the same named schema", () => {
    const ops = specOperations();
    for (const [k, route] of appOperations()) {
      const response = (route.schema?.response ?? {}) as Record<string, unknown>;
      const documented = Object.keys(ops.get(k)?.responses ?? {});
      for (const [code, schema] of Object.entries(response)) {
        if (/^[1-5]xx$/i.test(code)) {
          // A range in the route schema ('4xx'): OpenAPI names the codes of it the route answers.
          const inRange = documented.filter((d) => d[0] === code[0]);
          expect(inRange, `${k} ${code}`).not.toEqual([]);
          for (const d of inRange) if (idOf(schema)) expect(jsonSchemaRef(ops.get(k)?.responses?.[d]), `${k} ${d}`).toBe(schemaRef(idOf(schema)!));
        } else {
          expect(documented, k).toContain(code);
          if (idOf(schema)) expect(jsonSchemaRef(ops.get(k)?.responses?.[code]), `${k} ${code}`).toBe(schemaRef(idOf(schema)!));
        }
      }
    }
  });

  it('documents no status a route with a response schema has no schema for', () => {
    const ops = specOperations();
    for (const [k, route] of appOperations()) {
      const response = route.schema?.response as Record<string, unknown> | undefined;
      if (!response) continue;
      const declared = Object.keys(response).map((c) => c.toLowerCase());
      for (const code of Object.keys(ops.get(k)?.responses ?? {})) {
        expect(declared.includes(code) || declared.includes(`${code[0]}xx`), `${k} ${code}`).toBe(true);
      }
    }
  });

  it('names the same request body schema as the route', () => {
    const ops = specOperations();
    for (const [k, route] of appOperations()) {
      const id = idOf(route.schema?.body);
      if (!id) continue;
      expect(ops.get(k)?.requestBody?.content?.['application/json']?.schema?.$ref, k).toBe(schemaRef(id));
    }
  });
});
