import { describe, expect, it } from 'vitest';
import { xdmEventId } from '../../src/mapping/experience-event.js';
import { MAX_DATE_TEXT_LENGTH, MAX_ID_LENGTH, MAX_NUMBER_TEXT_LENGTH } from '../../src/mapping/capillary-event.js';
import { asCurrencyCode, asDateTime, asId, asNumber, asText, at, compact, numberToText } from '../../src/mapping/values.js';
import { buildEvent } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent } from '../helpers/xdm-validator.js';

describe('value helpers', () => {
  it.each([
    [387979001, '387979001'],
    [387979001.0, '387979001'],
    [1720440349027.0, '1720440349027'],
    ['387979001.0', '387979001'],
    ['3.87979001E8', '387979001'],
    [' 50952.00 ', '50952'],
    ['007', '007'],
    ['BILL-42', 'BILL-42'],
    [2261.5, '2261.5'],
    ['2261.5', '2261.5'],
    [1e21, '1000000000000000000000'],
    [-0, '0'],
    ['', undefined],
    ['   ', undefined],
    [null, undefined],
    [true, undefined],
    [{}, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
  ])('asId(%j) = %j', (input, expected) => {
    expect(asId(input)).toBe(expected);
  });

  it.each([
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [-2.25e-9, '-0.00000000225'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
  ])('numberToText(%j) = %j (plain decimal form)', (input, expected) => {
    expect(numberToText(input)).toBe(expected);
  });

  it.each([
    [120, 120],
    ['120', 120],
    [' 50952.0 ', 50952],
    ['1e3', 1000],
    ['1,200', undefined],
    ['12abc', undefined],
    ['', undefined],
    [null, undefined],
    [false, undefined],
    [[1], undefined],
    ['Infinity', undefined],
  ])('asNumber(%j) = %j', (input, expected) => {
    expect(asNumber(input)).toBe(expected);
  });

  it('asText trims and drops blanks', () => {
    expect(asText('  Drivers ')).toBe('Drivers');
    expect(asText(' \t\n')).toBeUndefined();
    expect(asText(12)).toBe('12');
  });

  it.each([
    ['2027-04-27', '2027-04-27T00:00:00.000Z'],
    [' 2027-04-27 ', '2027-04-27T00:00:00.000Z'],
    [1619517441506, '2021-04-27T09:57:21.506Z'],
    [1619517441506.0, '2021-04-27T09:57:21.506Z'],
    ['1619517441506', '2021-04-27T09:57:21.506Z'],
    ['2026-12-31T23:59:59+05:30', '2026-12-31T18:29:59.000Z'],
    ['2025-12-23T17:55:00 +05:30', '2025-12-23T12:25:00.000Z'],
    ['2025-09-01 18:00:43', '2025-09-01T18:00:43.000Z'],
    ['2025-09-01T18:00', '2025-09-01T18:00:00.000Z'],
    ['2021-02-30', undefined],
    ['2021-13-01', undefined],
    ['2021-02-30T10:00:00Z', undefined],
    ['GJXKZF', undefined],
    ['', undefined],
    [1e20, undefined],
    [null, undefined],
  ])('asDateTime(%j) = %j', (input, expected) => {
    expect(asDateTime(input)).toBe(expected);
  });

  it.each([
    ['INR', 'INR'],
    [' EUR ', 'EUR'],
    [' ', undefined],
    ['inr', undefined],
    ['EURO', undefined],
    [978, undefined],
  ])('asCurrencyCode(%j) = %j', (input, expected) => {
    expect(asCurrencyCode(input)).toBe(expected);
  });

  it('at() walks plain objects only, never the prototype', () => {
    expect(at({ a: { b: 1 } }, 'a', 'b')).toBe(1);
    expect(at({ a: [1] }, 'a', '0')).toBeUndefined();
    expect(at({}, 'constructor')).toBeUndefined();
    expect(at(null, 'a')).toBeUndefined();
  });

  it('compact() removes null, blank, non-finite and the empty containers left behind', () => {
    expect(compact({ a: null, b: ' ', c: Number.NaN, d: { e: [], f: {} }, g: [null, ' ', 0, false], h: 'x' })).toEqual({ g: [0, false], h: 'x' });
    expect(compact({ a: { b: undefined } })).toBeUndefined();
  });
});

describe('length caps before parsing (issue 10, item 5)', () => {
  it('reads a number up to MAX_NUMBER_TEXT_LENGTH characters, and no longer one', () => {
    const atCap = `1${'0'.repeat(MAX_NUMBER_TEXT_LENGTH - 3)}.0`;
    expect(atCap).toHaveLength(MAX_NUMBER_TEXT_LENGTH);
    expect(asNumber(atCap)).toBe(Number(atCap));
    expect(asNumber(`${atCap}0`)).toBeUndefined();
  });

  it('reads a date-time up to MAX_DATE_TEXT_LENGTH characters, and no longer one', () => {
    const padded = (length: number) => '2021-04-27T10:37:21Z'.padStart(length, ' ');
    expect(asDateTime(padded(MAX_DATE_TEXT_LENGTH))).toBe('2021-04-27T10:37:21.000Z');
    expect(asDateTime(padded(MAX_DATE_TEXT_LENGTH + 1))).toBeUndefined();
  });

  it('keeps an id up to MAX_ID_LENGTH characters, and drops a longer one', () => {
    expect(asId('A'.repeat(MAX_ID_LENGTH))).toBe('A'.repeat(MAX_ID_LENGTH));
    expect(asId('A'.repeat(MAX_ID_LENGTH + 1))).toBeUndefined();
  });
});

describe('ExperienceEvent _id', () => {
  it.each(['4647d7b7-61c0-480f-8dfe-40ff87f8a445', 'abacd-12345-ABCD', 'ABC-87484sdas&$', '12345abacde', 'urn:capillary:1'])(
    'keeps a valid id as it is: %s',
    (eventId) => {
      expect(xdmEventId(buildEvent('pointsIssued', {}, { eventId }))).toBe(eventId);
    },
  );

  it.each(['a b', 'a#b#c', '50%off', '//host:port', 'über-1', 'a/b', 'x\u{D800}y', '{"id":1}', 'line\nbreak'])(
    'percent-encodes an id a uri-reference cannot hold, deterministically: %j',
    (eventId) => {
      const event = buildEvent('pointsIssued', {}, { eventId });
      const id = xdmEventId(event);
      expect(id).toBe(xdmEventId({ ...event }));
      expect(id).not.toBe(eventId);
      expect(validateExperienceEvent({ _id: id, timestamp: '2025-01-01T00:00:00Z' })).toEqual([]);
    },
  );

  it('an id kept as it is never collides with an encoded one', () => {
    expect(xdmEventId(buildEvent('x', {}, { eventId: 'a b' }))).toBe('a%20b');
    expect(xdmEventId(buildEvent('x', {}, { eventId: 'a%20b' }))).toBe('a%2520b');
  });

  it('a blank eventId gets a stable hash of the event', () => {
    const event = buildEvent('pointsIssued', {}, { eventId: '  ' });
    expect(xdmEventId(event)).toMatch(/^capillary-[0-9a-f]{64}$/);
    expect(xdmEventId(event)).toBe(xdmEventId(buildEvent('pointsIssued', {}, { eventId: '' })));
  });
});
