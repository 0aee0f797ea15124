import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvSchema, SECRET_VARIABLES } from '../../src/config/env-schema.js';
import { OTEL_VARIABLES } from '../../src/tracing/tracing-env.js';

/**
 * Every setting is documented where operators look: `.env.example` (copied to `.env` for compose)
 * and docs/configuration.md (the README links it; the OTEL_* variables are with the traces, in
 * docs/operations.md). src/config/env-schema.ts is the single source; this keeps the docs in step with it.
 */

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const schema = EnvSchema.properties as Record<string, { default?: unknown }>;
const variables = Object.keys(schema).sort();
const fileVariants = SECRET_VARIABLES.map((name) => `${name}_FILE`);

/** `NAME=value` and commented-out `# NAME=` lines of .env.example, with their values. */
function envExampleAssignments(): Map<string, { value: string; commented: boolean }> {
  const found = new Map<string, { value: string; commented: boolean }>();
  for (const line of read('.env.example').split('\n')) {
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) found.set(m[2]!, { value: m[3]!, commented: m[1] !== undefined });
  }
  return found;
}

const mentions = (text: string, name: string) => new RegExp(`(^|[^A-Z0-9_])${name}([^A-Z0-9_]|$)`).test(text);

describe('configuration documentation', () => {
  it('.env.example lists every variable of the schema', () => {
    const listed = envExampleAssignments();
    expect(variables.filter((name) => !listed.has(name))).toEqual([]);
  });

  it('.env.example lists nothing the relay does not read', () => {
    const known = new Set([...variables, ...fileVariants, ...OTEL_VARIABLES]);
    expect([...envExampleAssignments().keys()].filter((name) => !known.has(name))).toEqual([]);
  });

  it(".env.example's active values are the schema's defaults", () => {
    const differing: string[] = [];
    for (const [name, { value, commented }] of envExampleAssignments()) {
      const fallback = schema[name]?.default;
      if (commented || fallback === undefined) continue;
      if (value !== String(fallback)) differing.push(`${name}=${value} (default ${String(fallback)})`);
    }
    expect(differing).toEqual([]);
  });

  // The OpenTelemetry SDK reads OTEL_* itself (src/tracing/tracing-env.ts says why they are not in
  // the schema); the ones the relay honours are documented all the same, commented out (tracing is off).
  it('.env.example and docs/operations.md list the OTEL_* variables the relay honours, commented out', () => {
    const listed = envExampleAssignments();
    expect(OTEL_VARIABLES.filter((name) => listed.get(name)?.commented !== true)).toEqual([]);
    const operations = read('docs/operations.md');
    expect(OTEL_VARIABLES.filter((name) => !mentions(operations, name))).toEqual([]);
  });

  it('docs/configuration.md names every variable of the schema', () => {
    const configuration = read('docs/configuration.md');
    expect(variables.filter((name) => !mentions(configuration, name))).toEqual([]);
  });

  it('docs/configuration.md and .env.example tell how secrets are read from files', () => {
    const configuration = read('docs/configuration.md');
    const example = read('.env.example');
    for (const name of fileVariants) {
      expect(mentions(example, name), `.env.example: ${name}`).toBe(true);
    }
    expect(fileVariants.some((name) => mentions(configuration, name)) || configuration.includes('_FILE'), 'docs/configuration.md: <NAME>_FILE').toBe(true);
  });
});
