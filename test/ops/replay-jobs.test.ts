import { afterEach, describe, expect, it } from 'vitest';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import { REPLAY_CHUNK_EVENTS } from '../../src/ops/replay-events.js';
import { adminHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Stores `count` events as an older relay without their mapping would have, in one commit. */
async function storeUnmapped(app: TestApp['app'], prefix: string, count: number) {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const body = sampleWithId('points-redeemed', `${prefix}-${String(i).padStart(5, '0')}`);
      const normalized = normalizeEnvelope(body, Date.now());
      if (!normalized.ok) throw new Error('fixture is not an event');
      return app.store.acceptEvent({ event: normalized.event, payload: JSON.stringify(body), mapping: { status: 'unmapped', messages: [], warnings: [] } });
    }),
  );
}

describe('event replay in chunks (issue 12)', () => {
  it('runs a replay as a background job whose progress GET /admin/jobs/{id} reports, polled to done', async () => {
    t = await buildTestApp();
    const app = t.app;
    // More than two chunks, the last one short.
    const count = REPLAY_CHUNK_EVENTS * 2 + 50;
    await storeUnmapped(app, 'bg', count);

    const started = await app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'unmapped', background: true } });
    expect(started.statusCode).toBe(202);
    expect(started.json()).toMatchObject({ kind: 'event_replay', state: 'running', done: 0, total: null, result: null, error: null });
    const done = await waitFor(async () => {
      const job = (await app.inject({ method: 'GET', url: `/admin/jobs/${started.json().jobId}`, headers: adminHeaders })).json();
      return job.state === 'running' ? undefined : job;
    }, { what: 'the background replay to finish' });
    expect(done).toMatchObject({ state: 'done', done: count, total: count, error: null, result: { examined: count, requeued: count, stillUnmapped: 0, busy: 0, nextAfter: null } });
    const last = (await app.inject({ method: 'GET', url: `/admin/events/bg-${String(count - 1).padStart(5, '0')}`, headers: adminHeaders })).json();
    expect(last.state).not.toBe('unmapped');
  });

  it('keeps the synchronous 200 answer up to 10,000 events and asks for background past it', async () => {
    t = await buildTestApp();
    const tooBig = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'unmapped', limit: 10_001 } });
    expect(tooBig.statusCode).toBe(400);
    expect(tooBig.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('background') });
    const atLimit = await t.app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'unmapped', limit: 10_000 } });
    expect(atLimit.statusCode).toBe(200);
    expect(atLimit.json()).toEqual({ examined: 0, requeued: 0, stillUnmapped: 0, busy: 0, nextAfter: null });
    const missing = await t.app.inject({ method: 'GET', url: '/admin/jobs/no-such-job', headers: adminHeaders });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe('job_not_found');
  });

  it('answers /healthz while a 5,000-event replay runs: the event loop gets turns between chunks', async () => {
    t = await buildTestApp();
    const app = t.app;
    const count = 5_000;
    await storeUnmapped(app, 'big', count);

    let replayEnded = false;
    const replay = app.inject({ method: 'POST', url: '/admin/events/replay', headers: adminHeaders, payload: { state: 'unmapped', limit: count } }).then((res) => {
      replayEnded = true;
      return res;
    });
    // Once the replay is under way (its first chunk committed), ask for /healthz.
    await waitFor(async () => (await app.store.listEventsForReplay({ mappingStatus: 'unmapped', limit: count })).length < count, { what: 'the first chunk' });
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(replayEnded).toBe(false);
    const res = await replay;
    expect(res.json()).toMatchObject({ examined: count, requeued: count, busy: 0 });
  });
});
