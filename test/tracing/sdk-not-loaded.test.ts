import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/relay-process.js';

/**
 * With tracing off the OpenTelemetry SDK, its exporters and @fastify/otel are never loaded (they
 * cost memory at rest for nothing; only the API's no-op is). A child process imports the relay's
 * whole module graph (server.ts's imports) and starts tracing, while a module resolve hook prints
 * every package it resolves. The same child with an endpoint set must load the SDK: the control
 * that shows the hook sees what it should.
 */
const SDK_PACKAGES = /node_modules\/(@opentelemetry\/(?!api\/)[^/]+|@fastify\/otel)\//;

let dir: string;
let script: string;
let hook: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'relay-sdk-load-'));
  // registerHooks (Node 24), not register(): its hooks run on the main thread and print as they
  // resolve, so every line is out before the process exits (register()'s hooks thread lost the
  // last ones now and then, the SDK's among them) and require() calls are seen too.
  hook = join(dir, 'register.mjs');
  writeFileSync(
    hook,
    "import { registerHooks } from 'node:module';\nregisterHooks({\n  resolve(specifier, context, next) {\n" +
      '    const result = next(specifier, context);\n    process.stdout.write(`resolved ${result.url}\\n`);\n    return result;\n  },\n});\n',
  );
  script = join(dir, 'start.mjs');
  const dist = (file: string) => JSON.stringify(pathToFileURL(join(process.cwd(), 'dist/src', file)).href);
  writeFileSync(
    script,
    `await import(${dist('app.js')});\nconst { startTracing } = await import(${dist('tracing/tracing.js')});\n` +
      `const tracing = await startTracing(process.env);\nawait tracing?.shutdown();\nprocess.stdout.write('started ' + (tracing ? 'on' : 'off') + '\\n');\n`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function resolvedPackages(env: Record<string, string>): { started: string | undefined; sdk: string[]; all: number } {
  const child = spawnSync(process.execPath, ['--import', hook, script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
  expect(child.status, child.stderr).toBe(0);
  const lines = child.stdout.split('\n');
  const resolved = lines.filter((l) => l.startsWith('resolved ')).map((l) => l.slice('resolved '.length));
  return { started: lines.find((l) => l.startsWith('started '))?.slice('started '.length), sdk: resolved.filter((url) => SDK_PACKAGES.test(url)), all: resolved.length };
}

describe('tracing off loads no SDK', () => {
  it('resolves the relay and the OpenTelemetry API, but no SDK package, without an endpoint', () => {
    const off = resolvedPackages({});
    expect(off.started).toBe('off');
    // The relay's own modules went through the hook: it was watching.
    expect(off.all).toBeGreaterThan(50);
    expect(off.sdk).toEqual([]);
  });

  it('loads the SDK once an endpoint is configured (the control)', () => {
    const on = resolvedPackages({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    expect(on.started).toBe('on');
    expect(on.sdk.some((url) => url.includes('@opentelemetry/sdk-trace-node'))).toBe(true);
    expect(on.sdk.some((url) => url.includes('@fastify/otel'))).toBe(true);
  });
});
