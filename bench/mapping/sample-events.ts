import { loadConfig } from '../../src/config/config.js';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import { bodyOf, loadSamples } from '../load/samples.js';

/**
 * The mapping settings of the in-process benches (store-cycle.ts, mapper-cost.ts): the relay's
 * defaults with one ExperienceEvent dataset and no profile dataset, as the bench's relays run.
 */
export const IN_PROCESS_MAPPING = loadConfig({
  CAPILLARY_AUTH_SECRETS: 'in-process-bench-secret-0123', STORE_URL: 'sqlite::memory:', AEP_INLET_URL: 'https://dcs.adobedc.net/collection/0123456789abcdef', AEP_FLOW_ID: 'f',
  AEP_EVENT_DATASET_ID: 'd', AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/x/schemas/e', ADOBE_ORG_ID: 'X@AdobeOrg', ADOBE_CLIENT_ID: 'c', ADOBE_CLIENT_SECRET: 's',
}).mapping;

/** `n` sample webhooks (bench/load/samples.ts), ids `<prefix>-<i>`, as the relay reads them: the raw body and the event. */
export function sampleEvents(n: number, prefix: string, receivedAt: () => number): { payload: string; event: CapillaryEvent }[] {
  const samples = loadSamples();
  return Array.from({ length: n }, (_, i) => {
    const payload = bodyOf(samples, i, `${prefix}-${i}`);
    const normalized = normalizeEnvelope(JSON.parse(payload), receivedAt());
    if (!normalized.ok) throw new Error('bench: a sample is not an event');
    return { payload, event: normalized.event };
  });
}
