import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { corpusFromFixtures } from './corpus-fixtures.js';

/**
 * src/setup-check/corpus.json is what field_coverage maps to learn which fields a route writes. It
 * must hold every documented event the tests know: when the fixtures gain an event or a field, this
 * fails until it is written again (npx tsx test/setup-check/write-corpus.ts).
 */
describe('the setup check corpus', () => {
  it('is the test fixtures, as written by test/setup-check/write-corpus.ts', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../src/setup-check/corpus.json', import.meta.url), 'utf8')) as unknown;
    expect(shipped).toEqual(JSON.parse(JSON.stringify(corpusFromFixtures())));
  });
});
