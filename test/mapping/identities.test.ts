import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mapEvent } from '../../src/mapping/map-event.js';
import { buildEvent } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';
import { entityOf, eventMessage, mappingOptions, primaryCount, profileMessage } from './options.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function identityMapOf(customerIdentifiers: unknown, options = mappingOptions()) {
  const result = mapEvent(buildEvent('pointsExpired', { customerIdentifiers, entityInformation: undefined }), options);
  const entity = entityOf(eventMessage(result.messages));
  expect(validateExperienceEvent(entity)).toEqual([]);
  return { identityMap: entity['identityMap'] as Record<string, unknown> | undefined, result };
}

const wechat = {
  accounts: [
    {
      accountId: 'WECHAT-CM',
      identifiers: [
        { identifierType: 'cuid', identifierValue: 'cuid_91796467656' },
        { identifierType: 'unionId', identifierValue: 'unionId_91796467656' },
        { identifierType: 'cardnumber', identifierValue: '   ' },
      ],
    },
  ],
};

describe('identities', () => {
  it('customerId is primary and authenticated; email trimmed and lower-cased; the others ambiguous', () => {
    const { identityMap } = identityMapOf({ customerId: 387979001.0, instore: { email: '  Asha.Rao@Example.COM ', mobile: ' 919811100000 ', externalId: 'EXT-1' } });
    expect(identityMap).toEqual({
      CapillaryId: [{ id: '387979001', authenticatedState: 'authenticated', primary: true }],
      Email: [{ id: 'asha.rao@example.com', authenticatedState: 'ambiguous', primary: false }],
      Phone: [{ id: '919811100000', authenticatedState: 'ambiguous', primary: false }],
      CapillaryExternalId: [{ id: 'EXT-1', authenticatedState: 'ambiguous', primary: false }],
    });
  });

  it.each([
    [{ instore: { email: 'a@example.com', mobile: '91980', externalId: 'X' } }, 'Email'],
    [{ instore: { email: ' ', mobile: '91980', externalId: 'X' } }, 'Phone'],
    [{ customerId: 0, instore: { mobile: '', externalId: 'X' } }, 'CapillaryExternalId'],
    [{ customerId: '  ', instore: { email: null }, wechat }, 'WeChatCuid'],
  ])('without a customerId the next identity is primary: %j -> %s', (customerIdentifiers, primaryNamespace) => {
    const options = mappingOptions({ identity: { ...mappingOptions().identity, channels: { CUID: 'WeChatCuid' } } });
    const { identityMap } = identityMapOf(customerIdentifiers, options);
    expect(primaryCount(identityMap)).toBe(1);
    const primary = Object.entries(identityMap ?? {}).find(([, items]) => (items as Array<{ primary: boolean }>).some((item) => item.primary));
    expect(primary?.[0]).toBe(primaryNamespace);
  });

  it('hashes email and phone with SHA-256 when asked, after normalising them', () => {
    const options = mappingOptions({ hashIdentities: true });
    const { identityMap } = identityMapOf({ customerId: 1, instore: { email: ' A@Example.com', mobile: 919811100000 } }, options);
    expect(identityMap).toMatchObject({
      CapillaryId: [{ id: '1' }],
      Email: [{ id: sha256('a@example.com') }],
      Phone: [{ id: sha256('919811100000') }],
    });
  });

  it('sends channel identifiers only for the identifier types configured (case-insensitive)', () => {
    const options = mappingOptions({ identity: { ...mappingOptions().identity, channels: { UnionID: 'WeChatUnionId' } } });
    const { identityMap } = identityMapOf({ customerId: 5, wechat, toabao: { accounts: 'not an array' } }, options);
    expect(identityMap).toEqual({
      CapillaryId: [{ id: '5', authenticatedState: 'authenticated', primary: true }],
      WeChatUnionId: [{ id: 'unionId_91796467656', authenticatedState: 'ambiguous', primary: false }],
    });
    expect(identityMapOf({ customerId: 5, wechat }).identityMap).toEqual({
      CapillaryId: [{ id: '5', authenticatedState: 'authenticated', primary: true }],
    });
  });

  it('an empty namespace leaves that identity out (externalId off by default in some deployments)', () => {
    const options = mappingOptions({ identity: { ...mappingOptions().identity, externalId: '' } });
    const { identityMap } = identityMapOf({ customerId: 5, instore: { externalId: 'EXT' } }, options);
    expect(Object.keys(identityMap ?? {})).toEqual(['CapillaryId']);
  });

  it('reads the `Instore` spelling of one documented sample', () => {
    const { identityMap } = identityMapOf({ customerId: 876, Instore: { mobile: '919740000000', email: 'tom@example.com' } });
    expect(Object.keys(identityMap ?? {})).toEqual(['CapillaryId', 'Email', 'Phone']);
  });

  it('two identity sources configured to the same namespace still give one primary', () => {
    const options = mappingOptions({ identity: { ...mappingOptions().identity, email: 'Contact', phone: 'Contact' } });
    const { identityMap } = identityMapOf({ instore: { email: 'a@example.com', mobile: '91980' } }, options);
    expect(identityMap).toEqual({
      Contact: [
        { id: 'a@example.com', authenticatedState: 'ambiguous', primary: true },
        { id: '91980', authenticatedState: 'ambiguous', primary: false },
      ],
    });
  });

  it.each([undefined, null, 'text', [], { instore: { email: '', mobile: '  ' } }])(
    'no identity at all (%j): still an ExperienceEvent, no identityMap, a no_identity warning, no profile',
    (customerIdentifiers) => {
      const { identityMap, result } = identityMapOf(customerIdentifiers);
      expect(identityMap).toBeUndefined();
      expect(result.status).toBe('mapped');
      expect(result.warnings).toEqual(['no_identity']);
      expect(profileMessage(result.messages)).toBeUndefined();
    },
  );

  it('entityInformation of a USER names the customer when customerIdentifiers do not', () => {
    const result = mapEvent(buildEvent('pointsExpired', { customerIdentifiers: undefined, entityInformation: { entityType: 'USER', entityId: 42.0 } }), mappingOptions());
    const profile = profileMessage(result.messages);
    expect(profile?.profileKey).toBe('42:1427');
    expect(validateProfile(entityOf(profile))).toEqual([]);
  });
});
