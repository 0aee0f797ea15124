import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createAepSink } from '../../src/adobe/dcs-client.js';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import type { ClaimedMessage, Sink } from '../../src/delivery/types.js';
import { XDM_CONTENT_TYPE, type DcsMessage } from '../../src/mapping/types.js';
import { createMetrics } from '../../src/metrics.js';
import { aepEnv, xdmMessageValidator } from '../helpers/aep-relay.js';
import { buildTestApp, captureLogger, authHeaders, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeDcsFault, type FakeIms } from '../helpers/fake-adobe.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 11: Adobe (or a proxy in front of it) answers something the relay cannot read. In every
 * case the batch was ingested, yet no message may count as delivered on an answer that does not
 * say so message by message: each is retried (a second copy with the same `_id` is harmless, a
 * message marked delivered that Adobe never took would be lost).
 */
const MALFORMED: Array<[string, FakeDcsFault]> = [
  ['a 207 whose body is not JSON', { kind: 'garbled', form: 'invalid-json' }],
  ['a 207 cut off halfway (the socket closes before Content-Length bytes)', { kind: 'garbled', form: 'truncated' }],
  ['a 200 with an HTML page', { kind: 'garbled', form: 'html' }],
  ['a 207 with fewer entries than messages', { kind: 'drop-entries', keep: 2 }],
];

let nextId = 1;
function claimed(): ClaimedMessage {
  const id = nextId++;
  const schemaRef = { id: 'https://ns.adobe.com/tenant/schemas/abc', contentType: XDM_CONTENT_TYPE };
  const message: DcsMessage = {
    header: { schemaRef, datasetId: 'dataset-1', flowId: 'flow-1' },
    body: { xdmMeta: { schemaRef }, xdmEntity: { _id: `malformed-${id}`, timestamp: '2025-01-01T00:00:00.000Z' } },
  };
  return { id, eventId: `event-${id}`, kind: 'event', body: JSON.stringify(message), attempts: 0, acceptedAt: Date.now() };
}

let dispatcher: Agent | undefined;
let sink: Sink | undefined;
let dcs: FakeDcs | undefined;
let ims: FakeIms | undefined;
let t: TestApp | undefined;

afterEach(async () => {
  await sink?.close();
  await t?.close();
  await dispatcher?.close();
  await dcs?.close();
  await ims?.close();
  sink = dispatcher = dcs = ims = t = undefined;
});

describe('malformed AEP answers, one batch', () => {
  it.each(MALFORMED)('%s: no message counts as delivered beyond what the answer names', async (_name, fault) => {
    dispatcher = createDispatcher();
    dcs = await startFakeDcs();
    sink = createAepSink({
      inletUrl: dcs.inletUrl('inlet-1'),
      flowId: 'flow-1',
      tokenProvider: undefined,
      dispatcher,
      logger: captureLogger().logger,
      metrics: createMetrics({ defaultMetrics: false }),
      requestTimeoutMs: 2_000,
    });
    const batch = Array.from({ length: 5 }, claimed);
    dcs.setFault(fault, { times: 1 });
    const out = await sink.send(batch, new AbortController().signal);

    // Adobe ingested all five: the answer, not the ingestion, is what is broken.
    expect(dcs.accepted).toHaveLength(5);
    const delivered = out.filter((o) => o.outcome === 'delivered').map((o) => o.id);
    const retried = out.filter((o) => o.outcome === 'retry').map((o) => o.id);
    const answeredFor = fault.kind === 'drop-entries' ? fault.keep : 0;
    expect(delivered).toEqual(batch.slice(0, answeredFor).map((m) => m.id));
    expect(retried).toEqual(batch.slice(answeredFor).map((m) => m.id));
    expect(out.every((o) => o.outcome !== 'rejected')).toBe(true);

    // The retry, on a sound answer, is delivered.
    const again = await sink.send(batch.slice(answeredFor), new AbortController().signal);
    expect(again.map((o) => o.outcome)).toEqual(batch.slice(answeredFor).map(() => 'delivered'));
  });
});

describe('malformed AEP answers through the relay', () => {
  it('every acknowledged event is delivered after a run of each malformed answer; none dead-lettered', async () => {
    ims = await startFakeIms();
    dcs = await startFakeDcs({ validate: xdmMessageValidator, ims });
    t = await buildTestApp(
      aepEnv(ims, dcs, {
        DELIVERY_RETRY_BASE_MS: '10',
        DELIVERY_RETRY_MAX_MS: '100',
        CIRCUIT_OPEN_MS: '200',
        DELIVERY_LINGER_MS: '5',
        DELIVERY_POLL_INTERVAL_MS: '20',
        DELIVERY_REQUEST_TIMEOUT_MS: '1000',
        DELIVERY_LEASE_MS: '3000',
        DELIVERY_BATCH_MAX_MESSAGES: '10',
      }),
    );
    const app = t.app;
    const names = Object.keys(SAMPLES);
    const figures: string[] = [];
    let acknowledged = 0;
    for (const [name, fault] of MALFORMED) {
      const before = dcs.requests.length;
      dcs.setFault(fault, { times: 3 });
      const ids = Array.from({ length: 20 }, (_, i) => `garbled-${fault.kind}-${'form' in fault ? fault.form : ''}-${i}`);
      const answers = await Promise.all(
        ids.map((id, i) =>
          app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId(names[i % names.length]!, id)) }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(ids.map(() => 202));
      acknowledged += ids.length;
      await waitFor(async () => ids.every((id) => dcs!.idCounts.has(id)) && (await app.store.queueStats(Date.now())).pending === 0, {
        timeoutMs: 15_000,
        what: `${name}: every event delivered and the queue empty`,
      });
      const mangled = dcs.requests.slice(before, before + 3);
      expect(mangled).toHaveLength(3);
      const sentTwice = ids.filter((id) => (dcs!.idCounts.get(id) ?? 0) > 1).length;
      // Each mangled answer left its batch undelivered: the batch went again, so it shows up twice.
      expect(sentTwice).toBeGreaterThan(0);
      // ...and only those batches: a second copy needs a mangled answer behind it.
      expect(sentTwice).toBeLessThanOrEqual(mangled.reduce((n, r) => n + r.messages, 0));
      figures.push(`${name}: 3 mangled answers, ${ids.length} acknowledged, ${ids.filter((id) => dcs!.idCounts.has(id)).length} delivered, ${sentTwice} sent twice`);
    }
    const stats = await app.store.queueStats(Date.now());
    expect(stats).toMatchObject({ pending: 0, deadLetters: 0 });
    console.info(`malformed AEP answers: ${acknowledged} acknowledged, lost 0, dead-lettered 0; ${figures.join('; ')}`);
  });
});
