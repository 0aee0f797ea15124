/**
 * `npm run bench:schema-validation` (issue 16): what checking each XDM message against the customer's
 * schema costs, side by side with validation off.
 *
 * 1. Compile: one resolved schema document (the standard fixtures + the Capillary field group, as a
 *    set-up sandbox answers it) compiled into a check, as on start and each schema change. The event
 *    loop is held for this long, once per schema version.
 * 2. Check alone: JSON.parse of the stored body + the ajv check, per message (the mapped corpus of
 *    every documented event, events and profile records).
 * 3. Delivery: the real DCS sink posting batches of 500 to a local fake DCS (keep-alive, one
 *    connection), with and without the validating sink in front: µs/message and the ratio.
 *
 * Prints a small table; numbers are for one core of this machine, best of several rounds.
 */
import { pino } from 'pino';
import { createAepSink } from '../../src/adobe/dcs-client.js';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import type { ClaimedMessage, Sink } from '../../src/delivery/types.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import type { MessageKind } from '../../src/mapping/types.js';
import { createMetrics } from '../../src/metrics.js';
import { createRouteSchemas } from '../../src/xdm-validation/route-schemas.js';
import { createValidatingSink } from '../../src/xdm-validation/validating-sink.js';
import { compileXdmSchema } from '../../src/xdm-validation/xdm-compile.js';
import { startFakeDcs } from '../../test/helpers/fake-adobe.js';
import { mappingOptions } from '../../test/mapping/options.js';
import { resolvedSchema } from '../../test/helpers/platform-sandbox.js';
import { corpusFromFixtures } from '../../test/setup-check/corpus-fixtures.js';

const ROUNDS = 7;
const BATCH = 500;
const BATCHES = 40;

const best = (samples: number[]) => Math.min(...samples);

function messages(): ClaimedMessage[] {
  const options = mappingOptions();
  const out: ClaimedMessage[] = [];
  let id = 0;
  for (const event of corpusFromFixtures()) {
    for (const { kind, message } of mapEvent(event, options).messages) {
      out.push({ id: ++id, eventId: event.eventId, kind, body: JSON.stringify(message), attempts: 0, acceptedAt: Date.now() });
    }
  }
  return out;
}

/** RouteSchemas over already compiled customer schemas (no Platform call in the measured path). */
function customerSchemas() {
  const metrics = createMetrics({ defaultMetrics: false });
  const schemas = createRouteSchemas({ route: 'bench', schemaIds: {}, client: undefined, refreshMs: 60_000, metrics, logger: pino({ level: 'silent' }) });
  const checks: Record<MessageKind, ReturnType<typeof compileXdmSchema>> = { event: compileXdmSchema(resolvedSchema('event')), profile: compileXdmSchema(resolvedSchema('profile')) };
  return { ...schemas, ready: () => Promise.resolve(), check: (kind: MessageKind, entity: unknown) => { const m = checks[kind].check(entity); return m ? { ...m, schemaId: kind, source: 'customer' as const } : undefined; }, close: () => undefined };
}

async function main(): Promise<void> {
  const corpus = messages();
  const batch = Array.from({ length: BATCH }, (_, i) => ({ ...corpus[i % corpus.length]!, id: i + 1 }));
  const rows: Array<[string, string]> = [];

  // 1. Compile.
  const compileMs: number[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    const started = performance.now();
    compileXdmSchema(resolvedSchema('event'));
    compileXdmSchema(resolvedSchema('profile'));
    compileMs.push(performance.now() - started);
  }
  rows.push(['compile event + profile schema (once per version)', `${best(compileMs).toFixed(1)} ms`]);

  // 2. The check alone.
  const schemas = customerSchemas();
  const perMessage: number[] = [];
  let failures = 0;
  for (let r = 0; r < ROUNDS; r += 1) {
    const started = performance.now();
    for (let i = 0; i < 20; i += 1) {
      for (const m of batch) if (schemas.check(m.kind, (JSON.parse(m.body) as { body: { xdmEntity: unknown } }).body.xdmEntity)) failures += 1;
    }
    perMessage.push(((performance.now() - started) * 1000) / (20 * batch.length));
  }
  if (failures > 0) throw new Error(`${failures} corpus messages do not fit the set-up schemas: the bench measures the wrong path`);
  rows.push(['parse + check, per message', `${best(perMessage).toFixed(2)} µs`]);

  // 3. Delivery through the real DCS sink to a local fake DCS, with and without the check.
  const dcs = await startFakeDcs({ recordMessages: false });
  const dispatcher = createDispatcher({ connections: 1 });
  const metrics = createMetrics({ defaultMetrics: false });
  const logger = pino({ level: 'silent' });
  const inner = createAepSink({ inletUrl: dcs.inletUrl(), tokenProvider: undefined, dispatcher, logger, metrics, requestTimeoutMs: 10_000 });
  const checked = createValidatingSink({ inner, schemas, mode: 'hold', route: 'bench', metrics, logger });
  const run = async (sink: Sink) => {
    const started = performance.now();
    for (let b = 0; b < BATCHES; b += 1) {
      const outcomes = await sink.send(batch, new AbortController().signal);
      if (outcomes.some((o) => o.outcome !== 'delivered')) throw new Error('a message was not delivered');
    }
    return ((performance.now() - started) * 1000) / (BATCHES * batch.length);
  };
  await run(inner);
  await run(checked);
  const off: number[] = [];
  const hold: number[] = [];
  // Interleaved, so drift of the machine (other work on its two cores) hits both sides alike.
  for (let r = 0; r < ROUNDS; r += 1) {
    off.push(await run(inner));
    hold.push(await run(checked));
  }
  rows.push([`delivery, validation off (batches of ${BATCH}), per message`, `${best(off).toFixed(2)} µs`]);
  rows.push([`delivery, validation hold, per message`, `${best(hold).toFixed(2)} µs`]);
  rows.push(['ratio hold / off', `${(best(hold) / best(off)).toFixed(2)}x`]);
  await dispatcher.close();
  await dcs.close();

  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`schema validation cost (${corpus.length} mapped corpus messages, best of ${ROUNDS} rounds, Node ${process.version})\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
