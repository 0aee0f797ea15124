import { describe, expect, it } from 'vitest';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import type { MappingOptions, MappingResult } from '../../src/mapping/types.js';
import { buildEvent, customerIdentifiers, PROGRAM_ID } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';
import { entityOf, eventMessage, mappingOptions, profileMessage } from '../mapping/options.js';

/**
 * Issue 10, item 5: a 2 MiB value in any field the mapper parses (numbers, epoch-millisecond dates,
 * ids) is mapped in milliseconds. The number regex once took n²/2 steps on "digits and a letter"
 * (about 1 s for 40,000 digits, so about 40 minutes for 2 MiB); the bound below is generous for a
 * busy machine and still thousands of times below that.
 */
const MIB = 1024 * 1024;
const N = 2 * MIB;
const LINEAR_BOUND_MS = 200;

const NASTY_SHAPES: ReadonlyArray<readonly [string, string]> = [
  ['digits', '1'.repeat(N)],
  ['digits and a letter', `${'1'.repeat(N)}x`],
  ['digits and a dangling exponent', `${'1'.repeat(N)}e`],
  ['signed zeros and a dangling point', `-${'0'.repeat(N)}.`],
  ['a zero fraction and a letter', `1.${'0'.repeat(N)}x`],
  ['a fraction with a broken exponent', `.${'1'.repeat(N)}e+x`],
  ['a date-time with endless fractional seconds', `2021-04-27T10:37:21.${'1'.repeat(N)}`],
  ['a short number in a sea of blanks', `${' '.repeat(N / 2)}12${' '.repeat(N / 2)}`],
];

/** Reads as a number, an epoch-millisecond date (2021-04-27) and an id alike. */
const SANE_VALUE = '1619517441506';

type Path = ReadonlyArray<string | number>;
interface Field {
  eventName: string;
  path: Path;
  /** `dropped`: mapped as if the field were absent. `text`: not a number, so kept as text (tier names). */
  outcome?: 'dropped' | 'text';
  options?: Partial<MappingOptions>;
  /** Fields removed first, where one read before this one would hide it (`a ?? b`). */
  without?: readonly string[];
  /** A value that must change the output (proving the field is read), when SANE_VALUE would not. */
  sane?: string;
  /** Fields of `data` set first. */
  data?: Record<string, unknown>;
}

const points = (...fields: string[]): Field[] => fields.map((field) => ({ eventName: 'pointsIssued', path: [field] }));
const redeemed = (...fields: string[]): Field[] => fields.map((field) => ({ eventName: 'pointsRedeemed', path: [field] }));

/** Every field the mapper reads with asNumber, asDateTime or asId (src/mapping/**), and an event that reads it. */
const FIELDS: readonly Field[] = [
  // Points (families/points.ts)
  ...points('programCurrentPoints', 'programLifetimePoints', 'totalPointsIssued', 'pointsExpired', 'pointsScheduledForExpiry'),
  ...points('regularPointsIssued', 'pointsConverted', 'totalPointsTransferred', 'pointsContributedToGroup', 'totalIssuedPointsReversed'),
  ...points('redeemedPointsReversed', 'scheduledExpiryDate', 'groupId'),
  { eventName: 'pointsIssued', path: ['promisedPointsIssued', 0, 'promisedPoints'] },
  { eventName: 'pointsIssued', path: ['promotionalPointsIssued', 0, 'promotionPoints'] },
  { eventName: 'pointsIssued', path: ['promotionalPointsIssued', 0, 'promotionIdentifier'] },
  ...redeemed('totalPointsRedeemed', 'redeemedPointsCurrencyValue', 'redemptionSummaryId', 'redemptionBillNumber'),
  { eventName: 'pointsRedeemed', path: ['redemptionFromEarningPrograms', 0, 'programCurrentPoints'] },
  { eventName: 'pointsRedeemed', path: ['redemptionFromEarningPrograms', 0, 'programId'], without: ['programCurrentPoints'], sane: String(PROGRAM_ID) },
  // Program, member and activity (context.ts, identities.ts)
  { eventName: 'tierUpgraded', path: ['loyaltyProgramDetails', 'tiers', 0, 'tierNumber'], sane: '1' },
  { eventName: 'pointsIssued', path: ['loyaltyProgramDetails', 'id'], without: ['loyaltyProgramId'] },
  { eventName: 'pointsIssued', path: ['loyaltyProgramId'] },
  { eventName: 'pointsIssued', path: ['customerIdentifiers', 'customerId'] },
  { eventName: 'pointsIssued', path: ['entityInformation', 'entityId'], without: ['customerIdentifiers'] },
  { eventName: 'pointsIssued', path: ['customerIdentifiers', 'instore', 'mobile'] },
  { eventName: 'pointsIssued', path: ['customerIdentifiers', 'instore', 'externalId'] },
  { eventName: 'pointsIssued', path: ['triggeringActivity', 'identifiers', 1, 'value'] },
  {
    eventName: 'pointsIssued',
    path: ['customerIdentifiers', 'mobilePush', 'accounts', 0, 'identifiers', 0, 'identifierValue'],
    data: { customerIdentifiers: { ...customerIdentifiers(), mobilePush: { accounts: [{ identifiers: [{ identifierType: 'pushId' }] }] } } },
    options: { identity: { ...mappingOptions().identity, channels: { pushId: 'PushId' } } },
  },
  // Tiers (families/tiers.ts): a tier number that is no number is kept as the tier's name.
  { eventName: 'tierUpgraded', path: ['upgradedTierNumber'], outcome: 'text' },
  { eventName: 'tierUpgraded', path: ['previousTierNumber'], outcome: 'text' },
  { eventName: 'tierUpgraded', path: ['tierExpiryDate'] },
  { eventName: 'tierDowngradeReminder', path: ['scheduledDowngradeDate'] },
  // Transactions (families/transactions.ts)
  ...['amount', 'discount', 'grossAmount', 'lineItemCount', 'enteredAt', 'billNumber', 'transactionId', 'billClientId'].map(
    (field): Field => ({ eventName: 'transactionAdded', path: [field] }),
  ),
  // Rewards, promotions, coupons (families/rewards.ts)
  ...['intouchPoints', 'startDate', 'endDate', 'rewardId', 'intouchSeriesId'].map((field): Field => ({ eventName: 'rewardIssued', path: [field] })),
  { eventName: 'rewardIssued', path: ['intouchRewardDetails', 'codeExpiry'] },
  ...['promotionId', 'promotionStartDate', 'promotionEndDate', 'promotionIssuedDate', 'promotionIssuedExpiryDate', 'issualId'].map(
    (field): Field => ({ eventName: 'promotionIssued', path: [field] }),
  ),
  ...['id', 'valid_till', 'issued_on'].map((field): Field => ({ eventName: 'CouponIssue', path: ['coupons', 0, field] })),
  { eventName: 'CouponIssue', path: ['series_info', 'id'] },
  ...['redemptionId', 'redemptionDate'].map((field): Field => ({ eventName: 'CouponRedeem', path: ['coupon', field] })),
  { eventName: 'CouponRedeem', path: ['transaction', 'number'] },
  // Partner programs and customers (families/partner-programs.ts, customers.ts)
  ...['partnerTierNumber', 'partnerTierExpiryDateInMillis', 'partnerTierExpiryDate', 'membershipExpiryDate'].map(
    (field): Field => ({
      // partnerProgramUpdated has no millisecond form, which would win over the other.
      eventName: field === 'partnerTierExpiryDate' ? 'partnerProgramUpdated' : 'partnerProgramLinked',
      path: ['customerPartnerProgramDetails', field],
    }),
  ),
  { eventName: 'partnerProgramLinked', path: ['partnerProgramId'] },
  { eventName: 'supplementaryMembershipExpiryReminder', path: ['scheduledExpiryDate'] },
  { eventName: 'customerAdded', path: ['enteredAt'] },
];

/** The event's data with `path` set to `value` (objects and arrays made where missing), or deleted. */
function withField(event: CapillaryEvent, path: Path, value: string | undefined): CapillaryEvent {
  const data = structuredClone(event.data);
  let node: Record<string | number, unknown> = data;
  for (const [index, key] of path.entries()) {
    if (index === path.length - 1) {
      if (value === undefined) delete node[key];
      else node[key] = value;
      break;
    }
    const next = path[index + 1];
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = typeof next === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  }
  return { ...event, data };
}

function expectValidXdm(result: MappingResult): void {
  expect(result.status).toBe('mapped');
  expect(result.warnings).not.toContain('mapping_error');
  expect(validateExperienceEvent(entityOf(eventMessage(result.messages)))).toEqual([]);
  const profile = profileMessage(result.messages);
  if (profile !== undefined) expect(validateProfile(entityOf(profile))).toEqual([]);
}

describe('2 MiB values in every field the mapper parses', () => {
  it('covers every event family', () => {
    const names = new Set(FIELDS.map((field) => field.eventName));
    expect(FIELDS.length).toBeGreaterThanOrEqual(60);
    for (const name of ['pointsIssued', 'tierUpgraded', 'transactionAdded', 'rewardIssued', 'CouponRedeem', 'partnerProgramLinked', 'customerAdded']) {
      expect(names).toContain(name);
    }
  });

  it.each(FIELDS.map((field) => [`${field.eventName} ${field.path.join('.')}`, field] as const))('%s', (_name, field) => {
    const options = mappingOptions(field.options);
    const base = buildEvent(field.eventName, { ...field.data, ...Object.fromEntries((field.without ?? []).map((name) => [name, undefined])) });
    const withoutField = mapEvent(withField(base, field.path, undefined), options);
    expectValidXdm(withoutField);
    // The field is read where the table says: a sane value there changes the output.
    expect(mapEvent(withField(base, field.path, field.sane ?? SANE_VALUE), options)).not.toEqual(withoutField);

    for (const [shape, value] of NASTY_SHAPES) {
      const event = withField(base, field.path, value);
      const started = performance.now();
      const result = mapEvent(event, options);
      const elapsedMs = performance.now() - started;

      expect(elapsedMs, shape).toBeLessThan(LINEAR_BOUND_MS);
      expectValidXdm(result);
      if (field.outcome === 'text') {
        expect(JSON.stringify(result.messages), shape).toContain(JSON.stringify(value.trim()));
      } else {
        expect(result, shape).toEqual(withoutField);
      }
    }
  });
});
