import { describe, expect, it } from 'vitest';
import { rawNumberAt, withExactEventIds } from '../../src/ingest/exact-event-id.js';

const exact = (raw: string) => withExactEventIds(JSON.parse(raw), raw);

describe('withExactEventIds', () => {
  it('puts back the digits JSON.parse rounded, for the flat, internal and wrapped id', () => {
    expect(exact('{"eventId": 12345678901234567891, "attributes": {}}')).toEqual({ eventId: '12345678901234567891', attributes: {} });
    expect(exact('{"body":{"eventName":"x","eventId":-98765432109876543210}}')).toEqual({ body: { eventName: 'x', eventId: '-98765432109876543210' } });
    expect(exact('{"eventId":12345678901234567891.000}')).toEqual({ eventId: '12345678901234567891.000' });
    // Too long for a double (Infinity): still every digit.
    const long = '9'.repeat(400);
    expect(exact(`{"eventId":${long}}`)).toEqual({ eventId: long });
  });

  it('leaves safe integers, floats, exponents and strings as parsed (no scan)', () => {
    for (const raw of ['{"eventId":1720440349027}', '{"eventId":1.5}', '{"eventId":1e30}', '{"eventId":"12345678901234567891"}']) {
      const body = JSON.parse(raw) as unknown;
      expect(withExactEventIds(body, raw)).toBe(body);
    }
  });

  it('reads the key JSON.parse reads: the last duplicate, escaped keys, not look-alikes inside strings or nested objects', () => {
    const raw = String.raw`{"note":"\"eventId\":11111111111111111111","data":{"eventId":22222222222222222222},"event\u0049d":33333333333333333333,"eventId":44444444444444444444}`;
    expect(rawNumberAt(raw, ['eventId'])).toBe('44444444444444444444');
    expect(rawNumberAt('{"eventId":55555555555555555555,"eventId":"later"}', ['eventId'])).toBeUndefined();
    expect(rawNumberAt('{"body":{"eventId":1},"body":{"x":[{"eventId":2}],"eventId":66666666666666666666}}', ['body', 'eventId'])).toBe('66666666666666666666');
    expect(rawNumberAt('[1]', ['eventId'])).toBeUndefined();
  });

  it('is linear and iterative on hostile input: 1,000,000 nested brackets and 1 MiB of escapes in milliseconds', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const escapes = `"${'\\"'.repeat(500_000)}"`;
    const raw = `{"a":${deep},"b":${escapes},"eventId":77777777777777777777}`;
    const started = performance.now();
    expect(rawNumberAt(raw, ['eventId'])).toBe('77777777777777777777');
    expect(rawNumberAt(raw, ['body', 'eventId'])).toBeUndefined();
    // Linear is a few ms here; quadratic or a recursive parser would take minutes or overflow the stack.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
