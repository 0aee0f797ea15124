import type { CapillaryEvent } from './capillary-event.js';
import { commonCapillaryFields } from './experience-event.js';
import type { FamilyOutput, MappingContext, ProfileLoyalty } from './context.js';
import type { ProfileRule } from './event-families.js';
import type { IdentityMap } from './identities.js';
import { compact, type JsonRecord } from './values.js';

/**
 * Loyalty Details fields added to XDM in 2025-2026 (adobe/xdm pull requests #2057, October 2025, and
 * #2122, March 2026). An AEP schema built on the older field group lacks them, and AEP rejects a record
 * with a field its schema does not have, so `legacyLoyaltySchema` leaves them all out. Of these the
 * mapper fills lifetimePoints, expiredPoints, tierExpiryDate, tierUpgradeDate and nextTier.
 */
export const LOYALTY_FIELDS_ADDED_2025_2026: readonly string[] = Object.freeze([
  'lifetimePoints',
  'expiredPoints',
  'tierExpiryDate',
  'tierUpgradeDate',
  'nextTier',
  'pointsToNextTier',
  'adjustedPoints',
  'cardsDetails',
  'challenges',
  'lifetimePurchases',
  'promisedPoints',
  'returnedPoints',
  'rewards',
]);

/** A createdAt further than this ahead of the relay's arrival time is a wrong clock or wrong data. */
export const MAX_SOURCE_TIME_AHEAD_MS = 24 * 3_600_000;

/**
 * The event's createdAt if it can order the member's profile records, else null. The watermark keeps
 * the newest source time per member and skips older records, so one bad time does lasting harm: the
 * arrival time standing in for a missing createdAt would skip every real update made before it, and a
 * createdAt in the year 9000 would skip every later one for good. An absent or unreadable createdAt,
 * or one more than a day ahead of arrival, is therefore not trusted.
 */
export function trustedSourceTime(event: Pick<CapillaryEvent, 'createdAt' | 'receivedAt'>): number | null {
  const { createdAt, receivedAt } = event;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || createdAt <= 0) return null;
  if (!Number.isFinite(receivedAt) || createdAt > receivedAt + MAX_SOURCE_TIME_AHEAD_MS) return null;
  return Math.trunc(createdAt);
}

/** Fields every profile record has; any other loyalty field is member state. */
const IDENTITY_ONLY_FIELDS = new Set(['loyaltyID', 'status']);

export interface ProfileRecord {
  entity: JsonRecord;
  /** `<customerId>:<programId or "default">`: the store keeps only the newest record per key. */
  profileKey: string;
}

/**
 * The Profile record (Individual Profile + Loyalty Details + IdentityMap) for an event that tells the
 * member's loyalty state now, or undefined when there is none to send: no profile dataset configured,
 * an event that carries no state, no customerId, or no identity the configuration lets us send.
 * `_id` is left out: the schema does not require it, and AEP keys profile records by identity.
 */
export function buildProfileRecord(
  ctx: MappingContext,
  rule: ProfileRule,
  identityMap: IdentityMap | undefined,
  family: FamilyOutput,
  tenantKey: string | undefined,
): ProfileRecord | undefined {
  const { options, customerId, program } = ctx;
  if (options.profile === undefined || rule === 'none' || customerId === undefined || identityMap === undefined) {
    return undefined;
  }
  const state = family.profile;
  if (state === undefined) return undefined;

  const loyalty = compact<JsonRecord>({
    loyaltyID: [customerId],
    program: program.name ?? program.id,
    ...withoutNewFields(state.loyalty, options.legacyLoyaltySchema),
    status: state.loyalty.status ?? 'active',
  });
  const hasState = Object.keys(loyalty ?? {}).some((field) => !IDENTITY_ONLY_FIELDS.has(field));
  if (rule === 'state' && !hasState) return undefined;

  const entity: JsonRecord = { identityMap, loyalty };
  if (tenantKey !== undefined) {
    entity[tenantKey] = { capillary: { ...commonCapillaryFields(ctx), ...state.capillary } };
  }
  return {
    entity: compact(entity) ?? {},
    profileKey: `${customerId}:${program.id ?? 'default'}`,
  };
}

function withoutNewFields(loyalty: ProfileLoyalty, legacy: boolean): JsonRecord {
  const fields: JsonRecord = { ...loyalty };
  delete fields['status'];
  if (legacy) for (const field of LOYALTY_FIELDS_ADDED_2025_2026) delete fields[field];
  return fields;
}
