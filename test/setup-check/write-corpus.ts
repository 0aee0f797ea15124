/**
 * Writes src/setup-check/corpus.json: every documented Capillary event (test/helpers/capillary-fixtures.ts)
 * and the six documentation samples, as the mapper takes them. The setup check maps this corpus with a
 * route's options to learn which fields the route can write; test/setup-check/corpus.test.ts fails when
 * it falls behind the fixtures. Run: npx tsx test/setup-check/write-corpus.ts
 */
import { writeFileSync } from 'node:fs';
import { corpusFromFixtures } from './corpus-fixtures.js';

writeFileSync(new URL('../../src/setup-check/corpus.json', import.meta.url), `${JSON.stringify(corpusFromFixtures(), null, 1)}\n`);
