import { readFileSync } from 'node:fs';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';

/**
 * Capillary events for tests: the six documentation samples in test/fixtures/capillary, and a
 * builder for every event name the mapper handles, shaped like Capillary's documented payloads
 * (docs.capillarytech.com event schema pages; personal data replaced). Where Capillary documents no
 * payload for an event (pointsExpiryChange, singlePointsExpiryUpdated, manualPointsAdjustment,
 * loyaltyCustomerMerge, rewardUpdated), the builder uses the common pieces all events share.
 */

export const SAMPLE_NAMES = [
  'customer-added',
  'points-issued',
  'points-redeemed',
  'reward-issued',
  'tier-upgraded',
  'transaction-added',
] as const;
export type SampleName = (typeof SAMPLE_NAMES)[number];

/** A sample as it arrived on the wire. */
export function loadSample(name: SampleName): Record<string, unknown> {
  const url = new URL(`../fixtures/capillary/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

/** The relay's acceptance time used by these fixtures (2025-07-01T00:00:00.000Z). */
export const RECEIVED_AT = Date.UTC(2025, 6, 1);

/**
 * A flat (or `{ body: ... }`-wrapped) envelope as the CapillaryEvent ingest would produce. Test-only
 * and deliberately simple: the mapper is tested on the normalized form alone.
 */
export function toCapillaryEvent(raw: Record<string, unknown>, receivedAt = RECEIVED_AT): CapillaryEvent {
  const wrapped = isRecord(raw['body']) && !('eventName' in raw);
  const flat = wrapped ? (raw['body'] as Record<string, unknown>) : raw;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
  const createdAt = typeof flat['createdAt'] === 'number' ? Math.trunc(flat['createdAt']) : undefined;
  return {
    eventId: text(flat['eventId']) ?? '',
    eventName: typeof flat['eventName'] === 'string' ? flat['eventName'] : '',
    createdAt,
    receivedAt,
    orgId: text(flat['orgId']),
    refId: text(flat['refId']),
    apiRequestId: text(flat['apiRequestId']),
    eventLogId: text(flat['eventLogId']),
    loyaltyEventId: text(flat['loyaltyEventId']),
    envelope: wrapped ? 'wrapped' : 'flat',
    data: isRecord(flat['data']) ? flat['data'] : {},
  };
}

export function sampleEvent(name: SampleName): CapillaryEvent {
  return toCapillaryEvent(loadSample(name));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- Common pieces of `data`, as documented -------------------------------------------------------

export const CUSTOMER_ID = 406273266;
export const PROGRAM_ID = 1427;

export const customerIdentifiers = (customerId: number = CUSTOMER_ID) => ({
  customerId,
  instore: { mobile: '919845600000', email: ' Member.One@Example.com ', externalId: `EXT-${customerId}` },
});

export const loyaltyProgramDetails = () => ({
  id: PROGRAM_ID,
  name: 'MainProgram',
  isDefault: false,
  pointsToCurrencyRatio: 1,
  tiers: [
    { tierNumber: 1, tierName: 'Silver' },
    { tierNumber: 2, tierName: 'Gold' },
    { tierNumber: 3, tierName: 'Diamond' },
  ],
});

export const enteredBy = () => ({
  id: 50671937,
  till: { code: 't1', name: 'Till One' },
  store: { code: 's1', name: 'Store One', externalId: 'STORE-1', externalId1: '', externalId2: '' },
});

export const triggeringActivity = (name = 'TransactionAdd') => ({
  name,
  identifiers: [
    { key: 'BillId', value: '2152322568' },
    { key: 'billNumber', value: 'BILL-1750151307' },
  ],
  enteredBy: enteredBy(),
  additionalAttributes: [],
});

const loyaltyCommon = () => ({
  customerIdentifiers: customerIdentifiers(),
  entityInformation: { entityType: 'USER', entityId: CUSTOMER_ID },
  triggeringActivity: triggeringActivity(),
  loyaltyProgramDetails: loyaltyProgramDetails(),
  loyaltyProgramId: PROGRAM_ID,
});

const coupon = () => ({
  id: 397759647,
  code: '2YPHHFQR',
  valid_till: 2556124199000,
  issued_on: 1630927651000,
  customerIdentifiers: { customerId: 414935964 },
});

const seriesInfo = () => ({
  id: 353122,
  description: 'welcome_series',
  seriesType: 'LOYALTY',
  clientHandlingType: 'DISC_CODE',
  valid_till: 2556037800000,
  discount_code: 'NO_VALUE',
  discount_type: 'ABS',
  discount_value: 500,
});

const partnerProgram = () => ({
  customerIdentifiers: customerIdentifiers(354971193),
  entityInformation: { entityType: 'USER', entityId: 354971193 },
  loyaltyProgramId: 855,
  partnerProgramId: 25,
  partnerProgramName: 'Demo-p1 ',
  partnerProgramType: 'EXTERNAL',
});

const rewardIssued = () => ({
  customerIdentifiers: { customerId: 8381714, instore: { mobile: '919742000000', email: '', externalId: '90000000001832700' } },
  rewardId: 868,
  type: 'VOUCHER',
  redemptionType: 'INTOUCH_REWARD',
  startDate: 1619119170000,
  endDate: 1667174400000,
  intouchPoints: 10,
  intouchSeriesId: '2483',
  priority: 1,
  tier: 'SILVER',
  group: 'test_group',
  label: 'test_label',
  intouchRewardDetails: { intouchCouponCode: 'CQDNUT1W', codeExpiry: 4758460200000 },
});

type DataBuilder = () => Record<string, unknown>;

/** Documented `data` for every event name the mapper handles, grouped by family. */
export const DOCUMENTED_DATA = {
  points: {
    pointsIssued: () => ({
      ...loyaltyCommon(),
      programCurrentPoints: 120,
      programLifetimePoints: 120,
      totalPointsIssued: 100,
      regularPointsIssued: 80,
      regularPointsBreakup: [{ points: 80, expiryAt: '2025-06-29' }],
      promotionalPointsIssued: [
        { promotionIdentifier: '80542', promotionType: 'BILL_PROMOTION', promotionPoints: 20, promotionPointsExpiryDate: '2025-04-26' },
      ],
      promisedPointsIssued: [{ promisedPoints: 5, isExternalTriggerBased: true, promisedPointsConversionDate: '2025-04-26' }],
    }),
    pointsRedeemed: () => ({
      ...loyaltyCommon(),
      triggeringActivity: triggeringActivity('PointsRedemption'),
      totalPointsRedeemed: 40,
      redemptionSummaryId: 8768,
      redeemedPointsCurrencyValue: 40,
      redemptionNotes: 'redeem',
      redemptionBillNumber: 'BILL-9807417180',
      isGroupRedemption: false,
      redemptionFromEarningPrograms: [{ programId: PROGRAM_ID, pointsRedeemed: 40, programCurrentPoints: 1260 }],
    }),
    pointsExpired: () => ({ customerIdentifiers: customerIdentifiers(), triggeringActivity: {}, loyaltyProgramId: PROGRAM_ID, pointsExpired: 1000 }),
    pointsExpiryReminder: () => ({
      customerIdentifiers: customerIdentifiers(),
      triggeringActivity: {},
      loyaltyProgramId: PROGRAM_ID,
      scheduledExpiryDate: '2020-01-19',
      pointsScheduledForExpiry: 1000,
    }),
    pointsExpiryChange: () => ({ ...loyaltyCommon(), programCurrentPoints: 500 }),
    singlePointsExpiryUpdated: () => ({ ...loyaltyCommon(), programCurrentPoints: 500 }),
    promisedToCurrentPointsConversion: () => ({
      customerIdentifiers: customerIdentifiers(),
      earningActivityReference: [{ name: 'CustomerRegistration', enteredAt: 1637731450000, pointsConverted: 500, identifiers: [{ key: 'billNumber', value: 'null' }] }],
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      pointsConverted: 500,
      programCurrentPoints: 500,
      programLifetimePoints: 500,
    }),
    pointsTransferredInitiated: () => ({
      customerIdentifiers: customerIdentifiers(),
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      totalPointsTransferred: 10,
      transferReceivingCustomerIdentifiers: customerIdentifiers(473772509),
      redemptionFromEarningPrograms: [{ programId: PROGRAM_ID, pointsRedeemed: 10, programCurrentPoints: 480 }],
    }),
    pointsTransferredReceived: () => ({
      customerIdentifiers: customerIdentifiers(473772509),
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      totalPointsTransferred: 10,
      transferInitiatingCustomerIdentifiers: { customerId: CUSTOMER_ID, instore: { externalId: 'CAP00005' } },
    }),
    redeemedPointsReversed: () => ({
      ...loyaltyCommon(),
      triggeringActivity: triggeringActivity('PointsRedemptionReversal'),
      redeemedPointsReversed: 10,
      redemptionSummaryId: 8770,
      redemptionReversalToEarningPrograms: [{ programId: PROGRAM_ID, redeemedPointsReversed: 10, programCurrentPoints: 1280 }],
    }),
    issuedPointsReversed: () => ({
      ...loyaltyCommon(),
      triggeringActivity: triggeringActivity('ReturnBill'),
      programCurrentPoints: 1300,
      programLifetimePoints: 1300,
      totalIssuedPointsReversed: 2734.502,
      regularPointsReversed: 1711.5,
      promisedPointsReversed: 1023.002,
      promotionalPointsReversed: [{ promotionIdentifier: '80542', promotionType: 'BILL', promotionPoints: 811.5 }],
    }),
    pointsContributionToGroup: () => ({
      groupId: 2146,
      groupName: 'Family',
      primaryMember: { firstName: 'Asha', lastName: 'Rao', role: 'PRIMARY', customerIdentifiers: customerIdentifiers(2828) },
      contributingMember: { firstName: 'Ravi', lastName: 'Rao', role: 'MEMBER', customerIdentifiers: customerIdentifiers() },
      triggeringActivity: triggeringActivity(),
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      pointsContributedToGroup: 446.5,
    }),
    manualPointsAdjustment: () => ({ ...loyaltyCommon(), programCurrentPoints: 900, programLifetimePoints: 1500 }),
  },
  tiers: {
    tierUpgraded: () => ({
      customerIdentifiers: customerIdentifiers(),
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      previousTierNumber: 1,
      upgradedTierNumber: 2,
      tierExpiryDate: '2027-04-27',
      notes: 'Upgrading to Slab : Slab[2]: Name Gold',
      upgradeType: 'STRATEGY',
    }),
    tierRenewed: () => ({
      customerIdentifiers: customerIdentifiers(),
      triggeringActivity: {},
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      currentTierNumber: 3,
      tierExpiryDate: '2027-04-25',
      notes: 'Renewing to Slab : Slab[3]: Name Diamond',
      renewType: 'STRATEGY',
    }),
    tierDowngraded: () => ({
      customerIdentifiers: customerIdentifiers(),
      triggeringActivity: {},
      loyaltyProgramDetails: loyaltyProgramDetails(),
      loyaltyProgramId: PROGRAM_ID,
      downgradedTierNumber: 1,
      previousTierNumber: 3,
      tierExpiryDate: '2027-04-25',
    }),
    tierDowngradeReminder: () => ({
      customerIdentifiers: customerIdentifiers(),
      triggeringActivity: {},
      loyaltyProgramId: PROGRAM_ID,
      scheduledDowngradeDate: '2026-04-25',
      currentTierNumber: 3,
    }),
  },
  rewards: {
    rewardIssued,
    rewardUpdated: () => ({ ...rewardIssued(), type: 'POINTS' }),
    CouponIssue: () => ({
      addedAt: 1630927651741,
      addedBy: { id: 15071481 },
      coupons: [coupon()],
      series_info: seriesInfo(),
      issualType: 'SINGLE',
    }),
    CouponRedeem: () => ({
      addedAt: 1630932050423,
      addedBy: { id: 15071481 },
      coupon: { id: 397759647, code: '2YPHHFQR', redemptionId: 9575291, redemptionDate: 1630932050000, series_info: seriesInfo() },
      customerIdentifiers: {
        customerId: 414935964,
        instore: {},
        wechat: {
          accounts: [
            {
              accountId: 'WECHAT-CM',
              identifiers: [
                { identifierType: 'cuid', identifierValue: 'cuid_91796467656' },
                { identifierType: 'unionId', identifierValue: 'unionId_91796467656' },
              ],
            },
          ],
        },
      },
      transaction: { bill_id: 2147864816, number: '293866733' },
    }),
    promotionIssued: () => ({
      customerIdentifiers: { customerId: 423817587, instore: { mobile: '919191920700', email: 'user700@example.com', cardNumbers: [] } },
      loyaltyProgramId: 2751,
      promotionId: 200281,
      promotionName: 'Promo_L',
      promotionStartDate: '2024-07-01',
      promotionEndDate: '2024-08-31',
      promotionIssuedDate: '2024-08-06',
      promotionIssuedExpiryDate: '2024-08-31',
      promotionDescription: 'Promo_L',
      pointsOfferType: 'GENERIC',
      customFields: [],
      issualId: 229,
    }),
  },
  transactions: {
    transactionAdded: () => ({
      amount: 50000,
      billClientId: '1121888',
      billNumber: '293866733',
      enteredAt: 1630927646973,
      transactionId: 2147864816,
      deliveryStatus: 'DELIVERED',
      billType: 'REGULAR',
      lineItemCount: 2,
      discount: 10,
      grossAmount: 50010,
      currencyCode: 'INR',
      enteredBy: { id: 15071481, till: { code: 'cm.1', name: 'cm.1' }, store: { code: 'mergestore1', name: 'MERGE FRONT ONE', externalId: 'aS123' } },
      customerIdentifiers: { customerId: 414935964, instore: { mobile: '919800000001', email: 'member.two@example.com' } },
    }),
    transactionUpdated: () => ({
      amount: 30000,
      billNumber: 'trans_update001',
      enteredAt: 1619198817000,
      transactionId: 161440570,
      deliveryStatus: 'DELIVERED',
      billType: 'REGULAR',
      discount: 0,
      grossAmount: 0,
      enteredBy: { id: 12970488 },
      customerIdentifiers: { customerId: 482579301, instore: { externalId: '22222222222222222' } },
    }),
  },
  customers: {
    customerAdded: () => ({
      loyaltyType: 'loyalty',
      source: 'INSTORE',
      enteredAt: 1619199041201,
      firstName: 'Asha',
      lastName: 'Rao',
      enteredBy: enteredBy(),
      customerIdentifiers: { customerId: 482579328, instore: { mobile: '919811100000', email: 'asha.rao@example.com', externalId: 'EXT-482579328' } },
    }),
    customerUpdated: () => ({
      loyaltyType: 'LOYALTY',
      source: 'MOBILE_APP',
      firstName: 'John',
      lastName: 'Doe',
      enteredAt: 1693333333000,
      enteredBy: enteredBy(),
      updatedFields: [{ fieldName: 'gender', previousValue: 'Female', currentValue: 'Male', fieldType: 'ExtendedField' }],
      customerStatus: { previousLabel: 'Inactive', currentLabel: 'Active', reason: 'Customer requested reactivation' },
      customerIdentifiers: { customerId: 12345, instore: { mobile: '9876543210', email: 'john.doe@example.com', externalId: 'EXT_CUST_001' } },
    }),
    loyaltyCustomerMerge: () => ({ customerIdentifiers: customerIdentifiers(), loyaltyProgramId: PROGRAM_ID }),
    cardUpdated: () => ({
      cardNumber: 'visa123112121744880',
      previousStatusLabel: 'new',
      currentStatusLabel: 'NOT_ISSUED',
      currentExtendedFields: [{ name: 'year_of_registration', value: '36' }],
      previousExtendedFields: [{ name: 'card_balance', value: '848.0' }],
    }),
  },
  partnerPrograms: {
    partnerProgramLinked: () => ({
      ...partnerProgram(),
      customerPartnerProgramDetails: { partnerTierExpiryDate: '2025-10-31', partnerTierExpiryDateInMillis: 1761874400000, partnerTierNumber: 1, membershipNumber: 'abcd' },
    }),
    partnerProgramUpdated: () => ({
      ...partnerProgram(),
      updateType: 'UPGRADE',
      customerPartnerProgramDetails: { partnerTierExpiryDate: '2021-06-29', partnerTierNumber: 2, membershipNumber: '123-asa3' },
    }),
    partnerProgramDelinked: () => ({ ...partnerProgram(), partnerProgramId: 24, partnerProgramName: 'NoTier-p1' }),
    supplementaryMembershipExpiryReminder: () => ({ ...partnerProgram(), partnerProgramId: 22, partnerProgramName: 'SPprogram1', scheduledExpiryDate: '2021-06-01' }),
  },
} satisfies Record<string, Record<string, DataBuilder>>;

export type Family = keyof typeof DOCUMENTED_DATA;

/** [family, eventName] for every documented event name. */
export const DOCUMENTED_EVENTS: ReadonlyArray<readonly [Family, string]> = Object.entries(DOCUMENTED_DATA).flatMap(
  ([family, events]) => Object.keys(events).map((name) => [family as Family, name] as const),
);

function dataFor(eventName: string): Record<string, unknown> {
  for (const events of Object.values(DOCUMENTED_DATA)) {
    if (!Object.hasOwn(events, eventName)) continue;
    const build = (events as Record<string, DataBuilder>)[eventName];
    if (build !== undefined) return build();
  }
  return {};
}

/**
 * A CapillaryEvent named `eventName` with the documented data for it (empty data for a name with
 * none), `data` fields overridden by `data`, envelope fields by `envelope`.
 */
export function buildEvent(
  eventName: string,
  data: Record<string, unknown> = {},
  envelope: Partial<CapillaryEvent> = {},
): CapillaryEvent {
  return {
    eventId: `evt-${eventName}-0001`,
    eventName,
    createdAt: Date.UTC(2025, 5, 18, 5, 28, 55, 590),
    receivedAt: RECEIVED_AT,
    orgId: '50614',
    refId: `50614_${eventName}`,
    apiRequestId: 'c5e1a4b2d3f6478899aabbccddeeff00',
    eventLogId: '39125117',
    loyaltyEventId: 'hhSRLt',
    envelope: 'flat',
    data: { ...dataFor(eventName), ...data },
    ...envelope,
  };
}
