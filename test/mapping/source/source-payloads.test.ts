import { describe, expect, it } from 'vitest';
import { mapRawEvent } from '../../../src/mapping/source/raw-payload.js';
import { mapSourceEvent } from '../../../src/mapping/source/source-payloads.js';
import { SAMPLE_NAMES, sampleEvent } from '../../helpers/capillary-fixtures.js';
import { mappingOptions } from '../options.js';

const payloads = (name: (typeof SAMPLE_NAMES)[number]) => {
  const result = mapSourceEvent(sampleEvent(name), mappingOptions());
  return { result, parsed: result.messages.map((m) => ({ kind: m.kind, body: JSON.parse(m.payload) as Record<string, unknown> })) };
};

/** The field names of Adobe's Capillary source (adobe-capillary-source.md): nothing else is sent. */
const PROFILE_KEYS = ['identityMap', 'loyalty'];
const LOYALTY_KEYS = new Set(['tier', 'points', 'lifetimePoints', 'expiredPoints', 'pointsRedeemed', 'program', 'status']);
const TRANSACTION_KEYS = ['_id', 'commerce', 'identityMap', 'productLineItems', 'timestamp'];

describe("AEP_OUTPUT=source: the Capillary source's payloads", () => {
  it('pointsIssued: one profile payload with the balance, lifetime points and program', () => {
    const { result, parsed } = payloads('points-issued');
    expect(result.status).toBe('mapped');
    expect(parsed).toEqual([
      {
        kind: 'profile',
        body: {
          identityMap: {
            customerId: [{ id: '387979652', authenticatedState: 'authenticated', primary: true }],
            phone: [{ id: '919300000020', authenticatedState: 'ambiguous', primary: false }],
          },
          loyalty: { points: 120, lifetimePoints: 120, program: 'DefaultProgram' },
        },
      },
    ]);
    expect(result.messages[0]!.profileKey).toBe('387979652:2649');
  });

  it('tierUpgraded: the tier by name, the email under identityMap.email (as in Adobe\'s sample mapping)', () => {
    const { parsed } = payloads('tier-upgraded');
    expect(parsed).toHaveLength(1);
    const body = parsed[0]!.body as { identityMap: Record<string, Array<{ id: string }>>; loyalty: Record<string, unknown> };
    expect(Object.keys(body).sort()).toEqual(PROFILE_KEYS);
    expect(body.loyalty).toMatchObject({ tier: 'Gold', program: 'MainProgram' });
    expect(body.identityMap['email']?.[0]?.id).toBe('member.one@example.com');
    expect(Object.keys(body.loyalty).every((k) => LOYALTY_KEYS.has(k))).toBe(true);
  });

  it('transactionAdded: one transaction payload: _id, timestamp, identityMap, commerce, productLineItems', () => {
    const { parsed } = payloads('transaction-added');
    expect(parsed).toHaveLength(1);
    expect(parsed[0]!.kind).toBe('event');
    const body = parsed[0]!.body;
    expect(Object.keys(body).sort()).toEqual(TRANSACTION_KEYS);
    expect(body).toMatchObject({
      _id: 'f8129682-4b57-4029-8761-b291404fae5e',
      timestamp: '2021-09-06T11:27:32.264Z',
      commerce: { commerceScope: { storeCode: 'mergestore1' }, order: { priceTotal: 50000 } },
      // Capillary's notifications carry no line items (only lineItemCount).
      productLineItems: [],
    });
    expect((body['identityMap'] as Record<string, unknown>)['email']).toEqual([{ id: 'member.two@example.com', authenticatedState: 'ambiguous', primary: false }]);
  });

  it('line items, when a payload has them, in the source field names', () => {
    const event = sampleEvent('transaction-added');
    event.data = { ...event.data, lineItems: [{ itemCode: 'SKU-1', qty: 2, amount: 300, description: 'Shirt', discount: 10 }] };
    const body = JSON.parse(mapSourceEvent(event, mappingOptions()).messages[0]!.payload) as Record<string, unknown>;
    expect(body['productLineItems']).toEqual([{ SKU: 'SKU-1', quantity: 2, priceTotal: 300, name: 'Shirt', discountAmount: 10 }]);
  });

  it('rewardIssued has no counterpart in the source: mapped, nothing to send', () => {
    const { result } = payloads('reward-issued');
    expect(result).toEqual({ status: 'mapped', messages: [], warnings: [] });
  });

  it('an unknown event name is unmapped (kept for replay), as for XDM', () => {
    const event = { ...sampleEvent('points-issued'), eventName: 'somethingNew' };
    expect(mapSourceEvent(event, mappingOptions()).status).toBe('unmapped');
  });

  it('AEP_OUTPUT=raw: the body exactly as received, whatever the event name', () => {
    const body = '{"eventName":"somethingNew",  "eventId":"e-1","orgId":1}';
    const event = { ...sampleEvent('points-issued'), eventName: 'somethingNew' };
    expect(mapRawEvent(event, body).messages).toEqual([{ kind: 'event', payload: body, sourceCreatedAt: event.createdAt }]);
  });
});
