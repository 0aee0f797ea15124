import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import { DOCUMENTED_EVENTS, SAMPLE_NAMES, buildEvent, sampleEvent } from '../helpers/capillary-fixtures.js';

/** The corpus the setup check ships, built from the test fixtures (one event per documented name, and the samples). */
export function corpusFromFixtures(): CapillaryEvent[] {
  return [...DOCUMENTED_EVENTS.map(([, name]) => buildEvent(name)), ...SAMPLE_NAMES.map((name) => sampleEvent(name))];
}
