import { describe, expect, it } from 'vitest';
import { mapEvent } from '../../src/mapping/map-event.js';
import { SAMPLE_NAMES, sampleEvent } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';
import { TENANT_KEY, entityOf, eventMessage, mappingOptions, profileMessage } from './options.js';

/** The six Capillary documentation samples, mapped with the default options (tenant + profile). */
function mapSample(name: (typeof SAMPLE_NAMES)[number], options = mappingOptions()) {
  const result = mapEvent(sampleEvent(name), options);
  const event = entityOf(eventMessage(result.messages));
  const profile = profileMessage(result.messages);
  return { result, event, profile, profileEntity: profile === undefined ? undefined : entityOf(profile) };
}

describe('Capillary samples', () => {
  it.each(SAMPLE_NAMES)('%s: every message validates against the flat XDM schemas', (name) => {
    for (const options of [mappingOptions(), mappingOptions({ tenantId: undefined, legacyLoyaltySchema: true })]) {
      const { result } = mapSample(name, options);
      expect(result.status).toBe('mapped');
      expect(result.warnings).toEqual([]);
      for (const message of result.messages) {
        const validate = message.kind === 'event' ? validateExperienceEvent : validateProfile;
        expect(validate(message.message.body.xdmEntity)).toEqual([]);
      }
    }
  });

  it('pointsIssued: points gained, balance 120 and lifetime 120 on the profile', () => {
    const { result, event, profile, profileEntity } = mapSample('points-issued');
    expect(event).toMatchObject({
      _id: '4647d7b7-61c0-480f-8dfe-40ff87f8a445',
      timestamp: '2025-06-18T05:28:55.590Z',
      eventType: 'loyalty.pointsIssued',
      identityMap: {
        CapillaryId: [{ id: '387979652', authenticatedState: 'authenticated', primary: true }],
        Phone: [{ id: '919300000020', authenticatedState: 'ambiguous', primary: false }],
      },
      loyalty: { pointsGained: [{ value: 100, loyaltyProgramId: '2649', transactionId: '1750151307' }] },
    });
    expect(event[TENANT_KEY]).toMatchObject({
      capillary: {
        eventName: 'pointsIssued',
        orgId: '51186',
        eventLogId: '39125117',
        loyaltyEventId: '627e870bd278ed95deb5a046b4e9a647',
        program: { id: '2649', name: 'DefaultProgram', isDefault: true },
        points: { current: 120, lifetime: 120, issued: 100, regularIssued: 100 },
      },
    });
    expect(profile).toMatchObject({ profileKey: '387979652:2649', sourceCreatedAt: 1750224535590 });
    expect(profileEntity).toMatchObject({
      loyalty: { loyaltyID: ['387979652'], program: 'DefaultProgram', points: 120, lifetimePoints: 120, status: 'active' },
    });
    expect(profileEntity).not.toHaveProperty('_id');
    expect(result.messages.map((message) => message.sourceCreatedAt)).toEqual([1750224535590, 1750224535590]);
  });

  it('pointsRedeemed: a points redemption, and the balance left in the program', () => {
    const { event, profile, profileEntity } = mapSample('points-redeemed');
    expect(event).toMatchObject({
      eventType: 'loyalty.pointsRedeemed',
      timestamp: '2021-04-27T10:40:00.000Z',
      commerce: { commerceScope: { storeCode: 's1' } },
      loyalty: { pointsRedemption: [{ value: 40, loyaltyProgramId: '1427', transactionId: 'BILL-9807417180' }] },
      identityMap: { Email: [{ id: 'member.one@example.com', primary: false }] },
    });
    expect(profile?.profileKey).toBe('406273266:1427');
    expect(profileEntity).toMatchObject({ loyalty: { points: 1260, pointsRedeemed: 40, program: 'MainProgram' } });
  });

  it('tierUpgraded: tier "Gold" by number, expiry as a date-time, upgrade date from createdAt', () => {
    const { event, profileEntity } = mapSample('tier-upgraded');
    expect(event).toMatchObject({ eventType: 'loyalty.tierUpgraded', timestamp: '2021-04-27T09:57:21.506Z' });
    expect(event[TENANT_KEY]).toMatchObject({
      capillary: { tier: { number: 2, name: 'Gold', previousNumber: 1, previousName: 'Silver', expiryDate: '2027-04-27T00:00:00.000Z', changeType: 'STRATEGY' } },
    });
    expect(profileEntity).toMatchObject({
      loyalty: {
        tier: 'Gold',
        nextTier: 'Diamond',
        tierExpiryDate: '2027-04-27T00:00:00.000Z',
        tierUpgradeDate: '2021-04-27T09:57:21.506Z',
        program: 'MainProgram',
        status: 'active',
      },
    });
  });

  it('tierUpgraded with the legacy switch: the 2025-2026 Loyalty Details fields are left out', () => {
    const { profileEntity } = mapSample('tier-upgraded', mappingOptions({ legacyLoyaltySchema: true }));
    expect(profileEntity?.['loyalty']).toEqual({ loyaltyID: ['406273266'], program: 'MainProgram', tier: 'Gold', status: 'active' });
  });

  it('transactionAdded: a purchase with the order, currency and store', () => {
    const { result, event } = mapSample('transaction-added');
    expect(event).toMatchObject({
      _id: 'f8129682-4b57-4029-8761-b291404fae5e',
      timestamp: '2021-09-06T11:27:32.264Z',
      eventType: 'commerce.purchases',
      commerce: {
        order: { purchaseID: '293866733', priceTotal: 50000, discountAmount: 10, currencyCode: 'INR' },
        purchases: { value: 1 },
        commerceScope: { storeCode: 'mergestore1' },
      },
      identityMap: { CapillaryId: [{ id: '414935964', primary: true }] },
    });
    expect(event[TENANT_KEY]).toMatchObject({
      capillary: { transaction: { id: '2147864816', billNumber: '293866733', billType: 'REGULAR', grossAmount: 50010, lineItemCount: 2 } },
    });
    expect(result.messages.map((message) => message.kind)).toEqual(['event']);
  });

  it('rewardIssued: blank email dropped, reward under the tenant, no profile record', () => {
    const { result, event } = mapSample('reward-issued');
    expect(Object.keys(event['identityMap'] as object)).toEqual(['CapillaryId', 'Phone', 'CapillaryExternalId']);
    expect(event[TENANT_KEY]).toMatchObject({
      capillary: {
        reward: {
          id: '868',
          type: 'VOUCHER',
          startDate: '2021-04-22T19:19:30.000Z',
          points: 10,
          tier: 'SILVER',
          seriesId: '2483',
          couponCode: 'CQDNUT1W',
          codeExpiry: '2120-10-15T18:30:00.000Z',
        },
      },
    });
    expect(result.messages).toHaveLength(1);
  });

  it('customerAdded: identities from instore, join date, names only under the tenant', () => {
    const { event, profile, profileEntity } = mapSample('customer-added');
    expect(event).toMatchObject({
      eventType: 'loyalty.customerAdded',
      identityMap: {
        CapillaryId: [{ id: '482579328', authenticatedState: 'authenticated', primary: true }],
        Email: [{ id: 'asha.rao@example.com', authenticatedState: 'ambiguous', primary: false }],
        Phone: [{ id: '919811100000', primary: false }],
        CapillaryExternalId: [{ id: 'EXT-482579328', primary: false }],
      },
      commerce: { commerceScope: { storeCode: 'hq.admin' } },
    });
    expect(profile?.profileKey).toBe('482579328:default');
    expect(profileEntity).toMatchObject({
      loyalty: { loyaltyID: ['482579328'], joinDate: '2021-04-23T17:30:41.201Z', status: 'active' },
      [TENANT_KEY]: { capillary: { customer: { firstName: 'Asha', lastName: 'Rao', loyaltyType: 'loyalty' } } },
    });
  });

  it('wraps each entity in a DCS message naming its dataset, schema, org, flow and source', () => {
    const { result } = mapSample('points-issued');
    const [event, profile] = result.messages;
    expect(event?.message.header).toEqual({
      schemaRef: { id: 'https://ns.adobe.com/acmecorp/schemas/event-1', contentType: 'application/vnd.adobe.xed-full+json;version=1' },
      imsOrgId: 'ABC123@AdobeOrg',
      datasetId: '5f0c1a2b3c4d5e6f7a8b9c0d',
      flowId: 'd5f6a7b8-0000-4000-8000-000000000001',
      source: { name: 'capillary-aep-relay' },
    });
    expect(event?.message.body.xdmMeta).toEqual({ schemaRef: event?.message.header.schemaRef });
    expect(profile?.message.header).toMatchObject({
      schemaRef: { id: 'https://ns.adobe.com/acmecorp/schemas/profile-1' },
      datasetId: '6a1b2c3d4e5f6a7b8c9d0e1f',
    });
  });
});
