import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { SAMPLES } from '../helpers/samples.js';

const PROFILE_ENV = { AEP_PROFILE_DATASET_ID: 'profile-ds', AEP_PROFILE_SCHEMA_ID: 'https://ns.adobe.com/acme/schemas/profile' };

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Every string in `value` with a NUL in the middle (and numbers that are ids turned into such strings). */
function withNuls(value: unknown): unknown {
  if (typeof value === 'string') return `${value.slice(0, 1)}\u0000${value.slice(1)}`;
  if (Array.isArray(value)) return value.map(withNuls);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNuls(v)]));
  return value;
}

describe.each([
  ['SQLite', async () => ({})],
  ['PostgreSQL', async () => ({ STORE_URL: await createTestDatabase() })],
] as const)('attack: NUL characters in every string of an event (%s)', (_name, storeEnv) => {
  it('is accepted (202), stored, and answered duplicate when redelivered: never 503 for ever', async () => {
    t = await buildTestApp({ ...PROFILE_ENV, ...(await storeEnv()) });
    const sample = structuredClone(SAMPLES['customer-added']!) as { data: { customerIdentifiers: Record<string, unknown> } } & Record<string, unknown>;
    sample.data.customerIdentifiers['customerId'] = String(sample.data.customerIdentifiers['customerId']); // the customer id too
    const body = withNuls({ ...sample, eventId: 'nul-attack-1' }) as Record<string, unknown>;
    expect(body['eventId']).toBe('n\u0000ul-attack-1');
    const payload = JSON.stringify(body);
    expect(payload).toContain('\\u0000');

    const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ eventId: 'nul-attack-1', status: 'accepted' });
    const stored = await t.app.store.getEvent('nul-attack-1');
    expect(stored?.messages.map((m) => m.kind)).toEqual(['event', 'profile']);
    expect(stored?.payload).toEqual(body); // the raw body, NULs and all (escaped JSON text)

    const again = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload });
    expect(again.json()).toEqual({ eventId: 'nul-attack-1', status: 'duplicate' });
  });
});
