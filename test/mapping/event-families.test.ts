import { describe, expect, it } from 'vitest';
import { KNOWN_EVENT_NAMES } from '../../src/mapping/event-families.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import { LOYALTY_FIELDS_ADDED_2025_2026 } from '../../src/mapping/profile-record.js';
import { DOCUMENTED_EVENTS, buildEvent } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';
import {
  OPTION_MATRIX,
  TENANT_KEY,
  emptyValuesIn,
  entityOf,
  eventMessage,
  mappingOptions,
  primaryCount,
  profileMessage,
} from './options.js';

/** Events whose documented payload describes no member state: ExperienceEvent only. */
const EVENT_ONLY = new Set([
  'rewardIssued',
  'rewardUpdated',
  'CouponIssue',
  'CouponRedeem',
  'promotionIssued',
  'transactionAdded',
  'transactionUpdated',
  'cardUpdated',
]);

describe('event families', () => {
  it('KNOWN_EVENT_NAMES is exactly the documented names of the six families', () => {
    expect(new Set(DOCUMENTED_EVENTS.map(([, name]) => name))).toEqual(KNOWN_EVENT_NAMES);
    expect(KNOWN_EVENT_NAMES.size).toBe(32);
  });

  describe.each(OPTION_MATRIX)('$label', ({ options }) => {
    it.each(DOCUMENTED_EVENTS)('%s %s: valid XDM, the right messages, nothing blank', (_family, name) => {
      const event = buildEvent(name);
      const result = mapEvent(event, options);
      expect(result.status).toBe('mapped');

      const eventEntity = entityOf(eventMessage(result.messages));
      expect(validateExperienceEvent(eventEntity)).toEqual([]);
      expect(emptyValuesIn(eventEntity)).toEqual([]);
      expect(eventEntity['_id']).toBe(event.eventId);
      expect(eventEntity['timestamp']).toBe('2025-06-18T05:28:55.590Z');
      if (eventEntity['identityMap'] !== undefined) expect(primaryCount(eventEntity['identityMap'])).toBe(1);

      const profile = profileMessage(result.messages);
      const expectProfile = options.profile !== undefined && !EVENT_ONLY.has(name);
      expect(profile !== undefined).toBe(expectProfile);
      for (const message of result.messages) expect(message.sourceCreatedAt).toBe(event.createdAt);

      if (profile !== undefined) {
        const profileEntity = entityOf(profile);
        expect(validateProfile(profileEntity)).toEqual([]);
        expect(emptyValuesIn(profileEntity)).toEqual([]);
        expect(primaryCount(profileEntity['identityMap'])).toBe(1);
        expect(profile.profileKey).toMatch(/^\d+:(\d+|default)$/);
        const loyalty = profileEntity['loyalty'] as Record<string, unknown>;
        expect(loyalty['loyaltyID']).toEqual([profile.profileKey?.split(':')[0]]);
        if (options.legacyLoyaltySchema) {
          for (const field of LOYALTY_FIELDS_ADDED_2025_2026) expect(loyalty).not.toHaveProperty(field);
        }
      }

      for (const message of result.messages) {
        const entity = entityOf(message);
        const tenantKeys = Object.keys(entity).filter((key) => key.startsWith('_') && key !== '_id');
        if (options.tenantId === undefined) {
          expect(tenantKeys).toEqual([]);
        } else {
          expect(tenantKeys).toEqual([TENANT_KEY]);
          expect(entity[TENANT_KEY]).toMatchObject({ capillary: { eventName: name, eventId: event.eventId } });
        }
      }
    });
  });

  it('eventType: loyalty.<eventName>, except purchases and returns', () => {
    const eventTypes = Object.fromEntries(
      DOCUMENTED_EVENTS.map(([, name]) => [name, entityOf(eventMessage(mapEvent(buildEvent(name), mappingOptions()).messages))['eventType']]),
    );
    for (const [name, eventType] of Object.entries(eventTypes)) {
      expect(eventType).toBe(name === 'transactionAdded' ? 'commerce.purchases' : `loyalty.${name}`);
    }
  });

  it.each(['', 'groupCreated', 'targetValueAchieved', 'couponissue', 'PointsIssued', 'constructor', '__proto__', 'toString'])(
    'unknown event name %j: unmapped, no messages',
    (name) => {
      const result = mapEvent(buildEvent(name, buildEvent('pointsIssued').data), mappingOptions());
      expect(result).toEqual({ status: 'unmapped', messages: [], warnings: [] });
    },
  );
});

/** Maps a built event with the default options and returns both entities. */
function mapped(name: string, data: Record<string, unknown> = {}, options = mappingOptions()) {
  const result = mapEvent(buildEvent(name, data), options);
  const event = entityOf(eventMessage(result.messages));
  const profile = profileMessage(result.messages);
  return {
    result,
    event,
    capillary: (event[TENANT_KEY] as { capillary: Record<string, unknown> } | undefined)?.capillary,
    profile: profile === undefined ? undefined : entityOf(profile),
    profileKey: profile?.profileKey,
  };
}

describe('points', () => {
  it('pointsIssued: the total and one entry per promotion in pointsGained', () => {
    const { event, capillary } = mapped('pointsIssued');
    expect(event['loyalty']).toEqual({
      pointsGained: [
        { value: 100, loyaltyProgramId: '1427', transactionId: 'BILL-1750151307' },
        { value: 20, loyaltyProgramId: '1427', transactionId: 'BILL-1750151307', promotionId: '80542' },
      ],
    });
    expect(capillary).toMatchObject({ points: { issued: 100, regularIssued: 80, promotionalIssued: 20, promisedIssued: 5 } });
  });

  it('pointsExpired: the expired amount on the profile, left out by the legacy switch', () => {
    expect(mapped('pointsExpired').profile).toMatchObject({ loyalty: { expiredPoints: 1000, program: '1427' } });
    const legacy = mapped('pointsExpired', {}, mappingOptions({ legacyLoyaltySchema: true })).profile;
    expect(legacy?.['loyalty']).toEqual({ loyaltyID: ['406273266'], program: '1427', status: 'active' });
  });

  it('pointsExpiryReminder: the points about to expire, and when', () => {
    const { profile, capillary } = mapped('pointsExpiryReminder');
    expect(profile).toMatchObject({
      loyalty: { pointsExpiration: [{ pointsExpiring: 1000, pointsExpirationDate: '2020-01-19T00:00:00.000Z' }] },
    });
    expect(capillary).toMatchObject({ points: { scheduledForExpiry: 1000, scheduledExpiryDate: '2020-01-19T00:00:00.000Z' } });
  });

  it('transfers and reversals: the balance comes from the per-program entry', () => {
    expect(mapped('pointsTransferredInitiated')).toMatchObject({
      profile: { loyalty: { points: 480 } },
      capillary: { points: { transferred: 10, transferCounterpartCustomerId: '473772509' } },
    });
    expect(mapped('pointsTransferredReceived')).toMatchObject({
      capillary: { customerId: '473772509', points: { transferred: 10, transferCounterpartCustomerId: '406273266' } },
    });
    expect(mapped('redeemedPointsReversed')).toMatchObject({ profile: { loyalty: { points: 1280 } }, capillary: { points: { reversed: 10 } } });
    expect(mapped('issuedPointsReversed')).toMatchObject({ profile: { loyalty: { points: 1300 } }, capillary: { points: { reversed: 2734.502 } } });
    expect(mapped('promisedToCurrentPointsConversion')).toMatchObject({ capillary: { points: { converted: 500, current: 500 } } });
  });

  it('pointsContributionToGroup: the contributing member is the identity', () => {
    const { event, capillary, profileKey } = mapped('pointsContributionToGroup');
    expect(event['identityMap']).toMatchObject({ CapillaryId: [{ id: '406273266', primary: true }] });
    expect(capillary).toMatchObject({ points: { contributedToGroup: 446.5, groupId: '2146', groupName: 'Family' } });
    expect(profileKey).toBe('406273266:1427');
  });
});

describe('tiers', () => {
  it('tierDowngraded: the lower tier by name, and the next one up', () => {
    expect(mapped('tierDowngraded').profile).toMatchObject({ loyalty: { tier: 'Silver', nextTier: 'Gold', tierExpiryDate: '2027-04-25T00:00:00.000Z' } });
    expect(mapped('tierDowngraded').profile?.['loyalty']).not.toHaveProperty('tierUpgradeDate');
  });

  it('tierRenewed at the top tier: no next tier', () => {
    const { profile, capillary } = mapped('tierRenewed');
    expect(profile?.['loyalty']).toMatchObject({ tier: 'Diamond' });
    expect(profile?.['loyalty']).not.toHaveProperty('nextTier');
    expect(capillary).toMatchObject({ tier: { number: 3, name: 'Diamond', changeType: 'STRATEGY' } });
  });

  it('tierDowngradeReminder without the program tiers: the number as text', () => {
    const { profile, capillary } = mapped('tierDowngradeReminder');
    expect(profile).toMatchObject({ loyalty: { tier: '3' } });
    expect(capillary).toMatchObject({ tier: { number: 3, name: '3', scheduledDowngradeDate: '2026-04-25T00:00:00.000Z' } });
  });

  it('a tier number written as a float or a string finds the name', () => {
    expect(mapped('tierUpgraded', { upgradedTierNumber: 3.0 }).profile).toMatchObject({ loyalty: { tier: 'Diamond' } });
    expect(mapped('tierUpgraded', { upgradedTierNumber: ' 2.0 ' }).profile).toMatchObject({ loyalty: { tier: 'Gold' } });
  });
});

describe('rewards and coupons', () => {
  it('CouponRedeem: the coupon redemption, with the bill it was redeemed on', () => {
    const { event, capillary } = mapped('CouponRedeem');
    expect(event['loyalty']).toEqual({ couponRedemption: [{ id: '397759647', series: '353122', seriesName: 'welcome_series' }] });
    expect(capillary).toMatchObject({
      coupons: [{ id: '397759647', code: '2YPHHFQR', redemptionId: '9575291', redeemedAt: '2021-09-06T12:40:50.000Z', billNumber: '293866733' }],
    });
  });

  it('CouponIssue: the customer comes from the coupon; series beside the coupons', () => {
    const { event, capillary } = mapped('CouponIssue');
    expect(event['identityMap']).toEqual({ CapillaryId: [{ id: '414935964', authenticatedState: 'authenticated', primary: true }] });
    expect(event).not.toHaveProperty('loyalty');
    expect(capillary).toMatchObject({
      coupons: [{ id: '397759647', seriesId: '353122', seriesName: 'welcome_series', validTill: '2050-12-31T18:29:59.000Z', issuedOn: '2021-09-06T11:27:31.000Z' }],
    });
  });

  it('promotionIssued: the promotion under the tenant', () => {
    expect(mapped('promotionIssued').capillary).toMatchObject({
      promotion: { id: '200281', name: 'Promo_L', type: 'GENERIC', issuedDate: '2024-08-06T00:00:00.000Z', issualId: '229' },
    });
  });
});

describe('transactions', () => {
  it('transactionUpdated: order details, never a second purchase', () => {
    const { event } = mapped('transactionUpdated');
    expect(event['eventType']).toBe('loyalty.transactionUpdated');
    expect(event['commerce']).toEqual({ order: { purchaseID: 'trans_update001', priceTotal: 30000, discountAmount: 0 } });
  });

  it.each(['transactionAdded', 'transactionUpdated'])('%s of a RETURN bill: a credit memo, not a purchase', (name) => {
    const { event } = mapped(name, { billType: ' return ' });
    expect(event['eventType']).toBe('commerce.backofficeCreditMemoIssued');
    expect(event['commerce']).not.toHaveProperty('purchases');
  });

  it.each([' ', '', 'inr', 'RUPEES', 42, null])('currencyCode %j is left out', (currencyCode) => {
    const { event } = mapped('transactionAdded', { currencyCode });
    expect(event['commerce']).toMatchObject({ order: { purchaseID: '293866733' } });
    expect((event['commerce'] as { order: object }).order).not.toHaveProperty('currencyCode');
  });

  it('amounts and ids written as floats or strings', () => {
    const { event } = mapped('transactionAdded', { amount: '50952.0', discount: 12.5, billNumber: 293866733.0, currencyCode: ' EUR ' });
    expect(event['commerce']).toMatchObject({ order: { purchaseID: '293866733', priceTotal: 50952, discountAmount: 12.5, currencyCode: 'EUR' } });
  });
});

describe('customers', () => {
  it('customerUpdated: which fields changed; the status the event gives', () => {
    expect(mapped('customerUpdated').capillary).toMatchObject({ customer: { updatedFields: ['gender'], status: 'Active', firstName: 'John' } });
    const deleted = mapped('customerUpdated', { customerStatus: { currentLabel: 'Deleted', reason: 'PII deletion' } });
    expect(deleted.profile).toMatchObject({ loyalty: { status: 'deleted' } });
    expect(deleted.profile?.['loyalty']).not.toHaveProperty('joinDate');
  });

  it('cardUpdated: no customer named, so no identity and a warning', () => {
    const { result, event, capillary } = mapped('cardUpdated');
    expect(result.warnings).toEqual(['no_identity']);
    expect(event).not.toHaveProperty('identityMap');
    expect(capillary).toMatchObject({ card: { number: 'visa123112121744880', status: 'NOT_ISSUED', previousStatus: 'new' } });
  });
});

describe('partner programs', () => {
  it('partnerProgramLinked: partner details under the tenant, the loyalty program on the profile', () => {
    const { capillary, profile, profileKey } = mapped('partnerProgramLinked');
    expect(capillary).toMatchObject({
      partnerProgram: { id: '25', name: 'Demo-p1', type: 'EXTERNAL', tierNumber: 1, tierExpiryDate: '2025-10-31T01:33:20.000Z', membershipNumber: 'abcd' },
    });
    expect(profile).toMatchObject({ loyalty: { program: '855', status: 'active' } });
    expect(profileKey).toBe('354971193:855');
  });

  it('supplementaryMembershipExpiryReminder: when the membership expires', () => {
    expect(mapped('supplementaryMembershipExpiryReminder').capillary).toMatchObject({
      partnerProgram: { id: '22', membershipExpiryDate: '2021-06-01T00:00:00.000Z' },
    });
  });
});
