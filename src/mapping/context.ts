import type { CapillaryEvent } from './capillary-event.js';
import type { MappingOptions } from './types.js';
import { asArray, asBoolean, asId, asNumber, asRecord, asText, at, numberToText, type JsonRecord } from './values.js';

/** What every family mapper gets: the event, its `data`, and the pieces most events share. */
export interface MappingContext {
  readonly event: CapillaryEvent;
  readonly eventName: string;
  readonly data: JsonRecord;
  readonly options: MappingOptions;
  /** Epoch ms of the event (createdAt, else receivedAt), and the same as ISO-8601 UTC. */
  readonly timestampMs: number;
  readonly timestamp: string;
  readonly customerId: string | undefined;
  readonly program: ProgramInfo;
}

/** What a family mapper adds to the common parts of the two XDM documents. */
export interface FamilyOutput {
  /** Defaults to `loyalty.<eventName>`. */
  eventType?: string;
  /** ExperienceEvent `commerce` (Commerce Details field group). */
  commerce?: JsonRecord;
  /** ExperienceEvent `loyalty` (Loyalty Event Details field group). */
  loyalty?: JsonRecord;
  /** ExperienceEvent `_<tenant>.capillary` fields beyond the common ones. */
  capillary?: JsonRecord;
  /** Member state for the Profile record (see profile-record.ts for when one is produced). */
  profile?: ProfileState;
}

export interface ProfileState {
  /** Profile `loyalty` fields (Loyalty Details field group), before the legacy switch is applied. */
  loyalty: ProfileLoyalty;
  /** Profile `_<tenant>.capillary` fields beyond the common ones. */
  capillary?: JsonRecord;
}

export interface ProfileLoyalty {
  points?: number | undefined;
  lifetimePoints?: number | undefined;
  pointsRedeemed?: number | undefined;
  expiredPoints?: number | undefined;
  pointsExpiration?: Array<{ pointsExpiring?: number | undefined; pointsExpirationDate?: string | undefined }>;
  tier?: string | undefined;
  nextTier?: string | undefined;
  tierExpiryDate?: string | undefined;
  tierUpgradeDate?: string | undefined;
  joinDate?: string | undefined;
  status?: string | undefined;
}

export interface ProgramInfo {
  id: string | undefined;
  name: string | undefined;
  isDefault: boolean | undefined;
  /** tierNumber as text (`"2"`) -> tierName, from `loyaltyProgramDetails.tiers[]`. */
  tiers: ReadonlyMap<string, { number: number; name: string | undefined }>;
}

export function programOf(data: JsonRecord): ProgramInfo {
  const details = asRecord(data['loyaltyProgramDetails']);
  const tiers = new Map<string, { number: number; name: string | undefined }>();
  for (const tier of asArray(details?.['tiers'])) {
    const number = asNumber(at(tier, 'tierNumber'));
    const key = number === undefined ? undefined : numberToText(number);
    if (number === undefined || key === undefined || tiers.has(key)) continue;
    tiers.set(key, { number, name: asText(at(tier, 'tierName')) });
  }
  return {
    id: asId(data['loyaltyProgramId']) ?? asId(details?.['id']),
    name: asText(details?.['name']),
    isDefault: asBoolean(details?.['isDefault']),
    tiers,
  };
}

export interface TierInfo {
  number: number | undefined;
  /** The tier's name from the program's tiers, else its number as text. */
  name: string | undefined;
}

/** Tier events carry tier numbers only; the name comes from `loyaltyProgramDetails.tiers[]`. */
export function tierOf(program: ProgramInfo, tierNumber: unknown): TierInfo {
  const number = asNumber(tierNumber);
  if (number === undefined) return { number: undefined, name: asText(tierNumber) };
  const key = numberToText(number);
  const named = key === undefined ? undefined : program.tiers.get(key);
  return { number, name: named?.name ?? key };
}

/** The name of the tier right above `current` in the program, when the program lists one. */
export function nextTierOf(program: ProgramInfo, current: number | undefined): string | undefined {
  if (current === undefined) return undefined;
  let next: { number: number; name: string | undefined } | undefined;
  for (const tier of program.tiers.values()) {
    if (tier.number > current && (next === undefined || tier.number < next.number)) next = tier;
  }
  return next === undefined ? undefined : (next.name ?? numberToText(next.number));
}

/** Where the event was entered: `enteredBy` on the event, else on the triggering activity. */
export function enteredByOf(data: JsonRecord): JsonRecord | undefined {
  return asRecord(data['enteredBy']) ?? asRecord(at(data, 'triggeringActivity', 'enteredBy'));
}

export function storeOf(data: JsonRecord): { code?: string; name?: string; externalId?: string } {
  const store = asRecord(at(data, 'enteredBy', 'store')) ?? asRecord(at(data, 'triggeringActivity', 'enteredBy', 'store'));
  return { code: asText(store?.['code']), name: asText(store?.['name']), externalId: asText(store?.['externalId']) };
}

export function tillOf(data: JsonRecord): { code?: string; name?: string } {
  const till = asRecord(at(data, 'enteredBy', 'till')) ?? asRecord(at(data, 'triggeringActivity', 'enteredBy', 'till'));
  return { code: asText(till?.['code']), name: asText(till?.['name']) };
}

/** The triggering activity's name and the bill it names (`identifiers: [ { key, value } ]`). */
export function activityOf(data: JsonRecord): { name?: string; billNumber?: string; billId?: string } {
  const activity = asRecord(data['triggeringActivity']);
  return {
    name: asText(activity?.['name']),
    billNumber: identifierValue(activity, 'billNumber'),
    billId: identifierValue(activity, 'billId'),
  };
}

/** First `{ key, value }` in `identifiers` whose key matches (case-insensitive); `"null"` counts as absent. */
function identifierValue(activity: JsonRecord | undefined, key: string): string | undefined {
  const wanted = key.toLowerCase();
  for (const identifier of asArray(activity?.['identifiers'])) {
    if (asText(at(identifier, 'key'))?.toLowerCase() !== wanted) continue;
    const value = asId(at(identifier, 'value'));
    if (value !== undefined && value.toLowerCase() !== 'null') return value;
  }
  return undefined;
}
