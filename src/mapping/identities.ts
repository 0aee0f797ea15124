import { hash } from 'node:crypto';
import type { MappingOptions } from './types.js';
import { asArray, asId, asRecord, asText, at, type JsonRecord } from './values.js';

/**
 * The XDM identityMap: namespace code -> identities. Exactly one identity in the whole map is
 * `primary: true`, in this order of preference: customerId, email, phone, externalId, the first
 * configured channel identifier.
 */
export interface IdentityItem {
  id: string;
  authenticatedState: 'authenticated' | 'ambiguous';
  primary: boolean;
}

export type IdentityMap = Record<string, IdentityItem[]>;

export interface Identities {
  /** Undefined when the event names nobody the configuration lets us send. */
  identityMap: IdentityMap | undefined;
  /** Capillary's customerId as text (`"387979652"`), when the event has one. */
  customerId: string | undefined;
}

/**
 * Where a Capillary event names its customer: `data.customerIdentifiers` on most events; the
 * contributing member on `pointsContributionToGroup`; the coupon's own identifiers on `CouponIssue`.
 */
export function customerIdentifiersOf(data: JsonRecord): JsonRecord | undefined {
  return (
    asRecord(data['customerIdentifiers']) ??
    asRecord(at(data, 'contributingMember', 'customerIdentifiers')) ??
    asRecord(at(data, 'coupon', 'customerIdentifiers')) ??
    asArray(data['coupons'])
      .map((coupon) => asRecord(at(coupon, 'customerIdentifiers')))
      .find((identifiers) => identifiers !== undefined)
  );
}

/** Capillary's customerId as text; `0` (Capillary's "none") counts as absent. */
export function customerIdOf(identifiers: JsonRecord | undefined, data: JsonRecord): string | undefined {
  const fromIdentifiers = asId(identifiers?.['customerId']);
  // Some payloads only say who the event is about in entityInformation.
  const fromEntity =
    asText(at(data, 'entityInformation', 'entityType'))?.toUpperCase() === 'USER'
      ? asId(at(data, 'entityInformation', 'entityId'))
      : undefined;
  const id = fromIdentifiers ?? fromEntity;
  return id === '0' ? undefined : id;
}

export function buildIdentities(data: JsonRecord, options: MappingOptions): Identities {
  const identifiers = customerIdentifiersOf(data);
  const customerId = customerIdOf(identifiers, data);
  const namespaces = options.identity;
  const builder = new IdentityMapBuilder();

  if (customerId !== undefined) builder.add(namespaces.customerId, customerId, 'authenticated');

  const instore = instoreOf(identifiers);
  const email = asText(instore?.['email'])?.toLowerCase();
  if (email !== undefined) builder.add(namespaces.email, maybeHash(email, options), 'ambiguous');
  const phone = asId(instore?.['mobile']);
  if (phone !== undefined) builder.add(namespaces.phone, maybeHash(phone, options), 'ambiguous');
  const externalId = asId(instore?.['externalId']);
  if (externalId !== undefined) builder.add(namespaces.externalId, externalId, 'ambiguous');

  const channelNamespaces = lowerCaseKeys(namespaces.channels);
  for (const { type, value } of channelIdentifiersOf(identifiers)) {
    const namespace = channelNamespaces.get(type.toLowerCase());
    if (namespace !== undefined) builder.add(namespace, value, 'ambiguous');
  }

  return { identityMap: builder.build(), customerId };
}

/** `instore` (one documented sample spells it `Instore`). */
function instoreOf(identifiers: JsonRecord | undefined): JsonRecord | undefined {
  if (identifiers === undefined) return undefined;
  const key = Object.keys(identifiers).find((name) => name.toLowerCase() === 'instore');
  return key === undefined ? undefined : asRecord(identifiers[key]);
}

/** Per-channel identifiers: `{ <channel>: { accounts: [ { identifiers: [ { identifierType, identifierValue } ] } ] } }`. */
function channelIdentifiersOf(identifiers: JsonRecord | undefined): Array<{ type: string; value: string }> {
  const found: Array<{ type: string; value: string }> = [];
  for (const channel of Object.values(identifiers ?? {})) {
    for (const account of asArray(asRecord(channel)?.['accounts'])) {
      for (const identifier of asArray(asRecord(account)?.['identifiers'])) {
        const type = asText(at(identifier, 'identifierType'));
        const value = asId(at(identifier, 'identifierValue'));
        if (type !== undefined && value !== undefined) found.push({ type, value });
      }
    }
  }
  return found;
}

// The lookup depends only on the settings, which live as long as the route: made once per settings
// object, not once per webhook (a Map per webhook was a tenth of the mapper's garbage).
const lowerCasedChannels = new WeakMap<Record<string, string>, Map<string, string>>();
const NO_CHANNELS = new Map<string, string>();

function lowerCaseKeys(channels: Record<string, string> | undefined): Map<string, string> {
  if (channels === undefined) return NO_CHANNELS;
  let map = lowerCasedChannels.get(channels);
  if (map === undefined) {
    map = lowerCaseKeysOf(channels);
    lowerCasedChannels.set(channels, map);
  }
  return map;
}

function lowerCaseKeysOf(channels: Record<string, string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [type, namespace] of Object.entries(channels)) {
    const key = type.trim().toLowerCase();
    if (key !== '' && !map.has(key)) map.set(key, namespace);
  }
  return map;
}

function maybeHash(value: string, options: MappingOptions): string {
  return options.hashIdentities ? sha256Hex(value) : value;
}

/** SHA-256 of the UTF-8 value, lower-case hex (what AEP's hashed namespaces expect). */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

class IdentityMapBuilder {
  private readonly namespaces = new Map<string, IdentityItem[]>();
  private hasPrimary = false;

  /** The first identity added is the primary one; a blank namespace means "do not send". */
  add(namespace: string | undefined, id: string, authenticatedState: IdentityItem['authenticatedState']): void {
    const code = typeof namespace === 'string' ? namespace.trim() : '';
    if (code === '') return;
    const items = this.namespaces.get(code) ?? [];
    if (items.some((item) => item.id === id)) return;
    items.push({ id, authenticatedState, primary: !this.hasPrimary });
    this.hasPrimary = true;
    this.namespaces.set(code, items);
  }

  build(): IdentityMap | undefined {
    // fromEntries defines own properties, so no namespace code can reach Object.prototype.
    return this.namespaces.size === 0 ? undefined : Object.fromEntries(this.namespaces);
  }
}
