import type { MappingOptions, OutboundMessage } from '../../src/mapping/types.js';

export const TENANT = 'acmecorp';
export const TENANT_KEY = `_${TENANT}`;

export const EVENT_TARGET = { datasetId: '5f0c1a2b3c4d5e6f7a8b9c0d', schemaId: 'https://ns.adobe.com/acmecorp/schemas/event-1' };
export const PROFILE_TARGET = { datasetId: '6a1b2c3d4e5f6a7b8c9d0e1f', schemaId: 'https://ns.adobe.com/acmecorp/schemas/profile-1' };

/** Defaults of the relay's config, with a profile dataset and a tenant, unless overridden. */
export function mappingOptions(overrides: Partial<MappingOptions> = {}): MappingOptions {
  return {
    event: EVENT_TARGET,
    profile: PROFILE_TARGET,
    imsOrgId: 'ABC123@AdobeOrg',
    flowId: 'd5f6a7b8-0000-4000-8000-000000000001',
    sourceName: 'capillary-aep-relay',
    tenantId: TENANT,
    identity: { customerId: 'CapillaryId', email: 'Email', phone: 'Phone', externalId: 'CapillaryExternalId', channels: {} },
    hashIdentities: false,
    legacyLoyaltySchema: false,
    ...overrides,
  };
}

/** The option combinations every event is mapped under: tenant on/off × legacy on/off × profile on/off. */
export const OPTION_MATRIX: ReadonlyArray<{ label: string; options: MappingOptions }> = [true, false].flatMap((tenant) =>
  [true, false].flatMap((legacy) =>
    [true, false].map((profile) => ({
      label: `tenant ${tenant ? 'on' : 'off'}, legacy ${legacy ? 'on' : 'off'}, profile ${profile ? 'on' : 'off'}`,
      options: mappingOptions({
        tenantId: tenant ? TENANT : undefined,
        legacyLoyaltySchema: legacy,
        profile: profile ? PROFILE_TARGET : undefined,
      }),
    })),
  ),
);

export function entityOf(message: OutboundMessage | undefined): Record<string, unknown> {
  if (message === undefined) throw new Error('no such message');
  return message.message.body.xdmEntity;
}

export function eventMessage(messages: readonly OutboundMessage[]): OutboundMessage {
  const found = messages.find((message) => message.kind === 'event');
  if (found === undefined) throw new Error('no event message');
  return found;
}

export function profileMessage(messages: readonly OutboundMessage[]): OutboundMessage | undefined {
  return messages.find((message) => message.kind === 'profile');
}

/** Every string anywhere in a JSON value, with its path. */
export function stringsIn(value: unknown, path = ''): Array<{ path: string; value: string }> {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, `${path}/${index}`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [{ path: `${path}/${key}#key`, value: key }, ...stringsIn(item, `${path}/${key}`)]);
  }
  return [];
}

/** Paths of values AEP must never get: null, NaN/Infinity, blank strings, empty objects or arrays. */
export function emptyValuesIn(value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [path];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (typeof value === 'string') return value.trim() === '' ? [path] : [];
  if (Array.isArray(value)) return value.length === 0 ? [path] : value.flatMap((item, index) => emptyValuesIn(item, `${path}/${index}`));
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? [path] : entries.flatMap(([key, item]) => emptyValuesIn(item, `${path}/${key}`));
  }
  return [];
}

/** Number of identities marked primary across an identityMap. */
export function primaryCount(identityMap: unknown): number {
  if (typeof identityMap !== 'object' || identityMap === null) return 0;
  return Object.values(identityMap as Record<string, Array<{ primary?: boolean }>>)
    .flat()
    .filter((identity) => identity.primary === true).length;
}
