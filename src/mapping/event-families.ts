/**
 * Every Capillary event name the mapper handles, and what kind of event it is.
 * Names are case-sensitive, as Capillary sends them (`CouponIssue`, not `couponIssue`).
 * An event name missing here is `unmapped`: stored and counted, replayable once it is added.
 */

export type EventFamily = 'points' | 'tiers' | 'rewards' | 'transactions' | 'customers' | 'partnerPrograms';

/**
 * When a Profile record is produced (besides `options.profile` being set and a customerId existing):
 * - `state`: when the event carries loyalty state (a points balance, a tier, the program, expiring points);
 * - `member`: always, the event is about the member (customer details);
 * - `none`: never (the event says what happened, not what the member's state now is).
 */
export type ProfileRule = 'state' | 'member' | 'none';

export interface EventSpec {
  readonly family: EventFamily;
  readonly profile: ProfileRule;
}

const spec = (family: EventFamily, profile: ProfileRule): EventSpec => Object.freeze({ family, profile });

const POINTS = spec('points', 'state');
const TIERS = spec('tiers', 'state');
const REWARDS = spec('rewards', 'none');
const TRANSACTIONS = spec('transactions', 'none');
const PARTNER_PROGRAMS = spec('partnerPrograms', 'state');

const EVENT_SPECS: ReadonlyMap<string, EventSpec> = new Map<string, EventSpec>([
  ['pointsIssued', POINTS],
  ['pointsRedeemed', POINTS],
  ['pointsExpired', POINTS],
  ['pointsExpiryReminder', POINTS],
  ['pointsExpiryChange', POINTS],
  ['singlePointsExpiryUpdated', POINTS],
  ['promisedToCurrentPointsConversion', POINTS],
  ['pointsTransferredInitiated', POINTS],
  ['pointsTransferredReceived', POINTS],
  ['redeemedPointsReversed', POINTS],
  ['issuedPointsReversed', POINTS],
  ['pointsContributionToGroup', POINTS],
  ['manualPointsAdjustment', POINTS],

  ['tierUpgraded', TIERS],
  ['tierRenewed', TIERS],
  ['tierDowngraded', TIERS],
  ['tierDowngradeReminder', TIERS],

  ['rewardIssued', REWARDS],
  ['rewardUpdated', REWARDS],
  ['CouponIssue', REWARDS],
  ['CouponRedeem', REWARDS],
  ['promotionIssued', REWARDS],

  ['transactionAdded', TRANSACTIONS],
  ['transactionUpdated', TRANSACTIONS],

  ['customerAdded', spec('customers', 'member')],
  ['customerUpdated', spec('customers', 'member')],
  ['loyaltyCustomerMerge', spec('customers', 'member')],
  // A card event carries no customer state the Profile schema can hold without overwriting the
  // member's other cards, so it stays an ExperienceEvent only.
  ['cardUpdated', spec('customers', 'none')],

  ['partnerProgramLinked', PARTNER_PROGRAMS],
  ['partnerProgramUpdated', PARTNER_PROGRAMS],
  ['partnerProgramDelinked', PARTNER_PROGRAMS],
  ['supplementaryMembershipExpiryReminder', PARTNER_PROGRAMS],
]);

/** Every event name the mapper handles (the bounded `event_name` metric label uses it). */
export const KNOWN_EVENT_NAMES: ReadonlySet<string> = new Set(EVENT_SPECS.keys());

/** The spec for a known event name; undefined for anything else (including `''` and `constructor`). */
export function eventSpec(eventName: string): EventSpec | undefined {
  return EVENT_SPECS.get(eventName);
}
