import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { sampleWithId } from '../helpers/samples.js';

const PROFILE_ENV = { AEP_PROFILE_DATASET_ID: 'profile-ds', AEP_PROFILE_SCHEMA_ID: 'https://ns.adobe.com/acme/schemas/profile' };
const HOUR = 3_600_000;
/** Queued for Adobe (the dry-run sink may already have taken it): anything but 'skipped'. */
const SENT = ['pending', 'in_flight', 'delivered'];

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const stores = [
  ['SQLite', async () => ({})],
  ['PostgreSQL', async () => ({ STORE_URL: await createTestDatabase() })],
] as const;

/** The points-issued sample (one member) with the given createdAt, or none; returns its profile record's state. */
async function send(app: TestApp['app'], eventId: string, createdAt: number | undefined): Promise<string | undefined> {
  const body = sampleWithId('points-issued', eventId);
  if (createdAt === undefined) delete body['createdAt'];
  else body['createdAt'] = createdAt;
  const res = await app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(body) });
  expect(res.json()).toEqual({ eventId, status: 'accepted' });
  const view = await app.store.getEvent(eventId);
  return view?.messages.find((m) => m.kind === 'profile')?.state;
}

describe.each(stores)('attack: a profile event whose time cannot be trusted (%s)', (_name, storeEnv) => {
  it('an event without createdAt is sent but does not make the member\'s earlier-stamped updates look stale', async () => {
    t = await buildTestApp({ ...PROFILE_ENV, ...(await storeEnv()) });
    expect(await send(t.app, 'untimed', undefined)).toBeOneOf(SENT);
    // Stamped an hour before it arrived (Capillary queues): before the fix the arrival time of
    // 'untimed' was the watermark, and this real update was skipped.
    expect(await send(t.app, 'stamped', Date.now() - HOUR)).toBeOneOf(SENT);
    // The watermark still works for real times.
    expect(await send(t.app, 'older', Date.now() - 2 * HOUR)).toBe('skipped');
  });

  it('a createdAt in the year 9000 is sent but does not block the member\'s later updates', async () => {
    t = await buildTestApp({ ...PROFILE_ENV, ...(await storeEnv()) });
    expect(await send(t.app, 'year-9000', Date.UTC(9000, 0, 1))).toBeOneOf(SENT);
    expect(await send(t.app, 'today', Date.now() - 60_000)).toBeOneOf(SENT);
  });
});
