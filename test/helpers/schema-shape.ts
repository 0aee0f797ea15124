import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { expect } from 'vitest';

/**
 * An answer's body, after checking it has the shape its route's schema promises (the same TypeBox
 * schema the route serializes with), so a field renamed or dropped fails the test.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the checked body freely
export function shaped<T = any>(schema: TSchema, body: unknown): T {
  const errors = [...Value.Errors(schema, body)].map((e) => `${e.path}: ${e.message}`);
  expect(errors, JSON.stringify(body).slice(0, 500)).toEqual([]);
  return body as T;
}
