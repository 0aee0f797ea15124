import { describe, expect, it } from 'vitest';
import { eventIdsOfXdmId, validationError } from '../../src/accounting/matching.js';
import { parseRecords } from '../../src/accounting/adobe-reads.js';
import { adobeDue, DAY_MS, HOUR_MS, hoursOf, parseInstant, windowsToJudge } from '../../src/accounting/windows.js';
import { xdmEventId } from '../../src/mapping/experience-event.js';
import { capillaryEvent } from '../store/store-contract.js';

const NOW = Date.UTC(2026, 2, 10, 13, 25);
const TODAY = Date.UTC(2026, 2, 10);

describe('accounting windows', () => {
  it('days: the 7 closed days before today; with no lag, today as well', () => {
    const days = windowsToJudge({ now: NOW, sizeMs: DAY_MS, lagMs: 3_600_000 });
    expect(days.map((w) => w.from)).toEqual(Array.from({ length: 7 }, (_, i) => TODAY - (7 - i) * DAY_MS));
    expect(days.at(-1)).toEqual({ from: TODAY - DAY_MS, to: TODAY });
    expect(windowsToJudge({ now: NOW, sizeMs: DAY_MS, lagMs: 0 }).at(-1)).toEqual({ from: TODAY, to: TODAY + DAY_MS });
  });

  it('hours: closed hours of the last 7 days, narrowed by from and to, never before the 7 days', () => {
    expect(windowsToJudge({ now: NOW, sizeMs: HOUR_MS, lagMs: 3_600_000 })).toHaveLength(7 * 24);
    const some = windowsToJudge({ now: NOW, sizeMs: HOUR_MS, lagMs: 3_600_000, from: TODAY + 30 * 60_000, to: TODAY + 3 * HOUR_MS });
    expect(some.map((w) => (w.from - TODAY) / HOUR_MS)).toEqual([0, 1, 2]);
    expect(windowsToJudge({ now: NOW, sizeMs: HOUR_MS, lagMs: 1, from: 0, to: TODAY - 6 * DAY_MS })[0]!.from).toBe(TODAY - 7 * DAY_MS + 13 * HOUR_MS);
    expect(windowsToJudge({ now: NOW, sizeMs: HOUR_MS, lagMs: 1, from: NOW })).toEqual([]);
  });

  it("Adobe's side of a window is judged once it is older than the lag", () => {
    const yesterday = { from: TODAY - DAY_MS, to: TODAY };
    expect(adobeDue(yesterday, TODAY + 59 * 60_000, 3_600_000)).toBe(false);
    expect(adobeDue(yesterday, TODAY + 60 * 60_000, 3_600_000)).toBe(true);
    expect(adobeDue({ from: TODAY, to: TODAY + DAY_MS }, NOW, 0)).toBe(true);
  });

  it('reads a window an hour at a time', () => {
    expect(hoursOf({ from: TODAY, to: TODAY + DAY_MS })).toHaveLength(24);
    expect(hoursOf({ from: TODAY + 30 * 60_000, to: TODAY + 2 * HOUR_MS })).toEqual([
      { from: TODAY + 30 * 60_000, to: TODAY + HOUR_MS },
      { from: TODAY + HOUR_MS, to: TODAY + 2 * HOUR_MS },
    ]);
  });

  it('takes ISO 8601 and epoch ms', () => {
    expect(parseInstant('2026-03-10T00:00:00Z')).toBe(TODAY);
    expect(parseInstant(String(TODAY))).toBe(TODAY);
    expect(parseInstant(TODAY)).toBe(TODAY);
    expect(parseInstant('2026-13-45')).toBeUndefined();
  });
});

describe('failed records back to events', () => {
  it("an ExperienceEvent's _id stands for its eventId, percent-encoded or not", () => {
    for (const eventId of ['4647d7b7-61c0-480f-8dfe-40ff87f8a445', 'has space/and slash', 'ünïcode']) {
      expect(eventIdsOfXdmId(xdmEventId(capillaryEvent({ eventId })))).toContain(eventId);
    }
    expect(eventIdsOfXdmId('%E0%A4%A')).toEqual(['%E0%A4%A']);
  });

  it("Adobe's validation messages, with where they point and the batch, as the dead letter's error", () => {
    const record = { _validationErrors: [{ keyword: 'type', message: 'expected string', pointerToViolation: '#/a' }, { keyword: 'required' }] };
    expect(validationError({ batchId: 'b1', record })).toBe('Adobe failed the record after accepting it (batch b1): expected string (at #/a); required');
    expect(validationError({ batchId: 'b2', record: {} })).toContain('no validation message given');
  });

  it('a failed-record file as lines of JSON or one array', () => {
    expect(parseRecords('{"a":1}\n\n{"b":2}\nnot json\n')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseRecords('[{"a":1},2]')).toEqual([{ a: 1 }]);
  });
});
