import { describe, expect, it } from 'vitest';
import { mapEvent } from '../../src/mapping/map-event.js';
import { MAX_SOURCE_TIME_AHEAD_MS, trustedSourceTime } from '../../src/mapping/profile-record.js';
import { RECEIVED_AT, sampleEvent } from '../helpers/capillary-fixtures.js';
import { mappingOptions } from './options.js';

const profileTime = (createdAt: number | undefined) => {
  const result = mapEvent({ ...sampleEvent('points-issued'), createdAt, receivedAt: RECEIVED_AT }, mappingOptions());
  const profile = result.messages.find((m) => m.kind === 'profile');
  if (!profile) throw new Error('no profile record');
  return { profile: profile.sourceCreatedAt, event: result.messages[0]!.sourceCreatedAt };
};

describe('profile record source time (the watermark trusts only this)', () => {
  it('is the event createdAt when it is at most a day ahead of arrival', () => {
    expect(profileTime(RECEIVED_AT - 3_600_000).profile).toBe(RECEIVED_AT - 3_600_000);
    expect(profileTime(RECEIVED_AT + MAX_SOURCE_TIME_AHEAD_MS).profile).toBe(RECEIVED_AT + MAX_SOURCE_TIME_AHEAD_MS);
    expect(trustedSourceTime({ createdAt: 1_750_000_000_000.9, receivedAt: 1_750_000_000_000 })).toBe(1_750_000_000_000);
  });

  it('is null with no createdAt: the arrival time never stands in for it', () => {
    expect(profileTime(undefined)).toEqual({ profile: null, event: RECEIVED_AT });
  });

  it('is null for a createdAt more than a day ahead of arrival (the year 9000)', () => {
    const year9000 = Date.UTC(9000, 0, 1);
    expect(profileTime(year9000)).toEqual({ profile: null, event: year9000 });
    expect(profileTime(RECEIVED_AT + MAX_SOURCE_TIME_AHEAD_MS + 1).profile).toBeNull();
  });

  it('is null for times that are not instants', () => {
    for (const createdAt of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(trustedSourceTime({ createdAt, receivedAt: RECEIVED_AT }), String(createdAt)).toBeNull();
    }
  });
});
