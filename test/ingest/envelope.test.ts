import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, MAX_NUMBER_TEXT_LENGTH } from '../../src/mapping/capillary-event.js';
import { idToString, normalizeEnvelope } from '../../src/ingest/envelope.js';

describe('normalizeEnvelope', () => {
  it('reads integers written as floats as plain integer strings', () => {
    expect(idToString(387979001.0)).toBe('387979001');
    expect(idToString('50952.0')).toBe('50952');
    expect(idToString(12.5)).toBe('12.5');
    expect(idToString('  ')).toBeUndefined();
  });

  it('caps text before reading it: ids at MAX_ID_LENGTH, createdAt at MAX_NUMBER_TEXT_LENGTH', () => {
    const orgAtCap = '7'.repeat(MAX_ID_LENGTH);
    const createdAtCap = `1619199042493.${'0'.repeat(MAX_NUMBER_TEXT_LENGTH - 14)}`;
    expect(createdAtCap).toHaveLength(MAX_NUMBER_TEXT_LENGTH);
    expect(normalizeEnvelope({ eventId: 'c1', orgId: orgAtCap, createdAt: createdAtCap }, 5)).toMatchObject({
      ok: true,
      event: { orgId: orgAtCap, createdAt: 1619199042493 },
    });
    const over = normalizeEnvelope({ eventId: 'c2', orgId: `${orgAtCap}7`, createdAt: `${createdAtCap}0` }, 5);
    expect(over).toMatchObject({ ok: true, event: { orgId: undefined, createdAt: undefined } });
  });

  it('drops NUL characters from ids and names, which PostgreSQL cannot store', () => {
    const result = normalizeEnvelope({ eventId: 'a\u0000b', eventName: 'points\u0000Issued' }, 1);
    expect(result).toMatchObject({ ok: true, event: { eventId: 'ab', eventName: 'pointsIssued' } });
    expect(normalizeEnvelope({ eventId: '\u0000' }, 1)).toMatchObject({ ok: false, code: 'no_event_id' });
  });

  it('takes the event name from eventType when the internal form has no attributes.eventName', () => {
    const result = normalizeEnvelope({ eventId: 'x1', eventType: '1800_customerAdded', attributes: { createdAt: 1619199042493.0, data: { a: 1 } } }, 5);
    expect(result).toMatchObject({ ok: true, event: { eventId: 'x1', eventName: 'customerAdded', createdAt: 1619199042493, envelope: 'internal', data: { a: 1 }, receivedAt: 5 } });
  });

  it('leaves createdAt undefined when it is not a usable epoch', () => {
    for (const createdAt of ['yesterday', -5, 1e20, null]) {
      const result = normalizeEnvelope({ eventId: 'c', createdAt }, 7);
      expect(result.ok && result.event.createdAt).toBeUndefined();
    }
  });
});
