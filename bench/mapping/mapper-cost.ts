/**
 * The mapper's CPU per webhook, in process: 1,000 sample webhooks (bench/load/samples.ts) mapped and
 * serialized as the relay stores them (mapEvent, then messageBody), 20 passes a round, ten rounds:
 * the fastest and the median reported (the fastest is the steadiest figure on a shared machine). The digest of every body written is printed too, so a change that claims to
 * be only faster can show it wrote the same bytes. `npx tsx bench/mapping/mapper-cost.ts`
 */
import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/config/config.js';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import { messageBody } from '../../src/store/shared/message-body.js';
import { bodyOf, loadSamples } from '../load/samples.js';

const samples = loadSamples();
const config = loadConfig({
  CAPILLARY_AUTH_SECRETS: 'mapper-cost-secret-0123', STORE_URL: 'sqlite::memory:', AEP_INLET_URL: 'https://dcs.adobedc.net/collection/0123456789abcdef', AEP_FLOW_ID: 'f',
  AEP_EVENT_DATASET_ID: 'd', AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/x/schemas/e', ADOBE_ORG_ID: 'X@AdobeOrg', ADOBE_CLIENT_ID: 'c', ADOBE_CLIENT_SECRET: 's',
});
// A fixed receipt time: the digest must not depend on when the bench ran.
const events = Array.from({ length: 1000 }, (_, i) => {
  const normalized = normalizeEnvelope(JSON.parse(bodyOf(samples, i, `mapper-cost-${i}`)), 1_700_000_000_000);
  if (!normalized.ok) throw new Error('bench: a sample is not an event');
  return normalized.event;
});

const passes = 20;
let bodies = 0;
const rounds: number[] = [];
for (let round = 0; round < 10; round += 1) {
  const t0 = performance.now();
  for (let pass = 0; pass < passes; pass += 1) for (const event of events) for (const message of mapEvent(event, config.mapping).messages) bodies += messageBody(message).length;
  rounds.push(((performance.now() - t0) * 1000) / (passes * events.length));
}
rounds.sort((a, b) => a - b);
process.stdout.write(`µs per webhook, mapped and serialized: fastest ${rounds[0]!.toFixed(2)}, median ${rounds[5]!.toFixed(2)}\n`);
const digest = createHash('sha256');
for (const event of events) for (const message of mapEvent(event, config.mapping).messages) digest.update(messageBody(message));
process.stdout.write(`bodies: ${bodies} bytes written in all; sha256 of one pass ${digest.digest('hex').slice(0, 16)}\n`);
