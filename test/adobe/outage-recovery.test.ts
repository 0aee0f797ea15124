import { afterEach, describe, expect, it } from 'vitest';
import { aepEnv, xdmMessageValidator } from '../helpers/aep-relay.js';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { scrapedValue } from '../helpers/metric-values.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 12: the inlet answers 503 for a while after a stretch of successful traffic, while webhooks
 * keep coming. The successes in the breaker's window must not keep the circuit closed (10 failures in
 * a row open it), and once a probe gets through every message held back by the 503s is due at once
 * rather than after its own backoff, which here is a minute or more.
 */
let t: TestApp | undefined;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;

afterEach(async () => {
  await t?.close();
  await dcs?.close();
  await ims?.close();
  t = ims = dcs = undefined;
});

const BACKOFF_MS = 60_000;
const names = Object.keys(SAMPLES);
const idsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

async function postEvents(app: TestApp['app'], ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const res = await app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId(names[i % names.length]!, id)) });
    expect(res.statusCode, res.body).toBe(202);
  }
}

describe('recovery after a 503 outage', () => {
  it('opens the circuit despite earlier successes, and delivers the whole held backlog as soon as Adobe answers again', async () => {
    ims = await startFakeIms();
    dcs = await startFakeDcs({ validate: xdmMessageValidator, ims });
    t = await buildTestApp(
      aepEnv(ims, dcs, {
        DELIVERY_RETRY_BASE_MS: String(BACKOFF_MS),
        DELIVERY_RETRY_MAX_MS: String(10 * BACKOFF_MS),
        CIRCUIT_OPEN_MS: '200',
        DELIVERY_BATCH_MAX_MESSAGES: '2',
        DELIVERY_LINGER_MS: '5',
        DELIVERY_POLL_INTERVAL_MS: '20',
      }),
    );
    const { app } = t;
    const fake = dcs;
    const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const delivered = (ids: string[]) => ids.every((id) => fake.idCounts.has(id));

    const healthy = idsOf('healthy', 30);
    await postEvents(app, healthy);
    await waitFor(() => delivered(healthy), { what: 'the healthy traffic delivered' });

    fake.setFault({ kind: 'status', status: 503 });
    const held = idsOf('held', 40);
    await postEvents(app, held);
    await waitFor(async () => scrapedValue(await scrape(), 'relay_aep_circuit_open') === 1, { what: 'the circuit open' });
    await waitFor(async () => (scrapedValue(await scrape(), 'relay_delivery_retries_total', { reason: 'http_5xx' }) ?? 0) >= 10, { what: 'messages held by 503s' });

    fake.setFault(null);
    const probe = idsOf('after', 1);
    await postEvents(app, probe);
    // Per-message backoff would deliver the held ones a minute or more from now.
    await waitFor(async () => delivered([...held, ...probe]) && (await app.store.queueStats(Date.now())).pending === 0, {
      timeoutMs: 15_000,
      what: 'the whole backlog delivered',
    });
    expect(scrapedValue(await scrape(), 'relay_aep_circuit_open')).toBe(0);
    expect([...fake.idCounts.values()].filter((n) => n !== 1)).toEqual([]);
  });
});
