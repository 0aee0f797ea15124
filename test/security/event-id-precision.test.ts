import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { SAMPLES } from '../helpers/samples.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The sample as raw JSON with a numeric eventId written as given (JSON.stringify would round it). */
function rawWithNumericId(digits: string, shape: 'flat' | 'wrapped'): string {
  const { eventId: _ignored, ...rest } = structuredClone(SAMPLES['points-issued']!);
  const flat = `{"eventId":${digits},${JSON.stringify(rest).slice(1)}`;
  return shape === 'flat' ? flat : `{"body":${flat}}`;
}

describe('attack: numeric eventIds above 2^53 that JSON.parse rounds to the same number', () => {
  it.each(['flat', 'wrapped'] as const)('two events that differ in the last digit are both accepted under their exact ids (%s)', async (shape) => {
    t = await buildTestApp();
    const ids = ['12345678901234567891', '12345678901234567892'];
    expect(Number(ids[0])).toBe(Number(ids[1])); // what JSON.parse alone would see
    for (const id of ids) {
      const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: rawWithNumericId(id, shape) });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ eventId: id, status: 'accepted' });
    }
    for (const id of ids) expect((await t.app.store.getEvent(id))?.eventId).toBe(id);
    // The second delivery of the same id is still a duplicate.
    const again = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: rawWithNumericId(ids[1]!, shape) });
    expect(again.json()).toEqual({ eventId: ids[1], status: 'duplicate' });
  });
});
