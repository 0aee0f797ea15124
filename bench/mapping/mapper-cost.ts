/**
 * The mapper's CPU per webhook, in process: 1,000 sample webhooks (bench/load/samples.ts) mapped and
 * serialized as the relay stores them (mapEvent, then messageBody), 20 passes a round, ten rounds:
 * the fastest and the median reported (the fastest is the steadiest figure on a shared machine). The
 * digest of every body written is printed too, so a change that claims to be only faster can show it
 * wrote the same bytes. `npx tsx bench/mapping/mapper-cost.ts`
 */
import { createHash } from 'node:crypto';
import { mapEvent } from '../../src/mapping/map-event.js';
import { messageBody } from '../../src/store/shared/message-body.js';
import { IN_PROCESS_MAPPING, sampleEvents } from './sample-events.js';

// A fixed receipt time: the digest must not depend on when the bench ran.
const events = sampleEvents(1000, 'mapper-cost', () => 1_700_000_000_000).map((s) => s.event);

const passes = 20;
let bodies = 0;
const rounds: number[] = [];
for (let round = 0; round < 10; round += 1) {
  const t0 = performance.now();
  for (let pass = 0; pass < passes; pass += 1) for (const event of events) for (const message of mapEvent(event, IN_PROCESS_MAPPING).messages) bodies += messageBody(message).length;
  rounds.push(((performance.now() - t0) * 1000) / (passes * events.length));
}
rounds.sort((a, b) => a - b);
process.stdout.write(`µs per webhook, mapped and serialized: fastest ${rounds[0]!.toFixed(2)}, median ${rounds[5]!.toFixed(2)}\n`);
const digest = createHash('sha256');
for (const event of events) for (const message of mapEvent(event, IN_PROCESS_MAPPING).messages) digest.update(messageBody(message));
process.stdout.write(`bodies: ${bodies} bytes written in all; sha256 of one pass ${digest.digest('hex').slice(0, 16)}\n`);
