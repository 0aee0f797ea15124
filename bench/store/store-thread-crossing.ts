/**
 * How a store call should cross to the SQLite store's thread (src/store/sqlite/thread-wire.ts):
 * the event loop's cost, per webhook, of sending one turn's 32 accepts as a structured clone or as a
 * JSON string, and of decoding the replies (claimed messages with their bodies; accept outcomes).
 * `npm run bench:store-crossing` (tsx, a few seconds).
 */
import { Worker } from 'node:worker_threads';
import { serialize, deserialize } from 'node:v8';
import { mapEvent } from '../../src/mapping/map-event.js';
import { buildEvent } from '../../test/helpers/capillary-fixtures.js';
import { mappingOptions } from '../../test/mapping/options.js';
import { readFileSync } from 'node:fs';
import { WIRE_ARGS } from '../../src/store/sqlite/thread-wire.js';

const payload = readFileSync(new URL('../../test/fixtures/capillary/points-issued.json', import.meta.url), 'utf8');
const make = (i: number) => {
  const event = buildEvent('pointsIssued', {}, { eventId: `evt-${i}` });
  // As the proxy sends it (WIRE_ARGS: the parsed body stays behind, the raw one crosses as payload).
  return { id: i, method: 'acceptEvent', args: WIRE_ARGS.acceptEvent!([{ event, payload, mapping: mapEvent(event, mappingOptions()) }]) as [{ mapping: { messages: unknown[] } }] };
};
const calls = Array.from({ length: 32 }, (_, i) => make(i));
console.log('one call JSON bytes', JSON.stringify(calls[0]).length, 'messages', calls[0]!.args[0]!.mapping.messages.length);
const worker = new Worker('require("node:worker_threads").parentPort.on("message", () => {})', { eval: true });
const N = 3000;
const time = (label: string, fn: () => void) => {
  for (let i = 0; i < 300; i++) fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const us = Number(process.hrtime.bigint() - t) / 1000 / N / 32;
  console.log(label, us.toFixed(2), 'µs per webhook');
};
for (let round = 0; round < 2; round++) {
  time('send structured clone', () => worker.postMessage({ calls }));
  time('send JSON string     ', () => worker.postMessage(JSON.stringify({ calls })));
}
// Replies: 32 claimed messages with bodies (the claim path), decoded on the event loop.
const claimed = calls.map((c, i) => ({ id: i, eventId: `evt-${i}`, kind: 'event', body: JSON.stringify(c.args[0]!.mapping.messages[0]), attempts: 0, acceptedAt: Date.now() }));
const replies = [{ id: 1, result: claimed }];
const sBuf = serialize(replies);
const jStr = JSON.stringify(replies);
for (let round = 0; round < 2; round++) {
  time('decode claim reply structured', () => deserialize(sBuf));
  time('decode claim reply JSON      ', () => JSON.parse(jStr));
}
const accReplies = calls.map((c) => ({ id: c.id, result: { outcome: 'accepted', skippedProfiles: 0 } }));
const sA = serialize(accReplies); const jA = JSON.stringify(accReplies);
time('decode accept replies structured', () => deserialize(sA));
time('decode accept replies JSON      ', () => JSON.parse(jA));
void worker.terminate();

