import type { CapillaryEvent } from '../capillary-event.js';
import { xdmEventId } from '../experience-event.js';
import { buildIdentities } from '../identities.js';
import { analyzeEvent, MAPPING_WARNINGS } from '../map-event.js';
import { trustedSourceTime } from '../profile-record.js';
import type { MappingOptions, MappingResult, PayloadMessage } from '../types.js';
import { asArray, asId, asNumber, asText, at, compact, type JsonRecord } from '../values.js';

/**
 * AEP_OUTPUT=source: the two payloads Adobe's "Capillary Streaming Events" source takes on its
 * streaming endpoints, so that Adobe's published Data Prep mappings apply unchanged (shapes from
 * Adobe's beta pages: /work/shared/reference/adobe-capillary-source.md, docs/capillary-source.md).
 *   profile      { identityMap, loyalty: { tier, points, lifetimePoints, expiredPoints, pointsRedeemed, program, status } }
 *   transaction  { _id, timestamp, identityMap, commerce: { commerceScope: { storeCode }, order: { priceTotal } }, productLineItems: [...] }
 * A loyalty-state event (points, tiers, customers) gives a profile payload; a transaction event a
 * transaction payload; other events (rewards, coupons) have no counterpart in the source: none.
 * Pure, like the XDM mapper: no I/O, no clock.
 */

/** Identity keys as in Adobe's sample mapping (`identityMap.email.id`): fixed, whatever the route's XDM namespaces. */
export const SOURCE_IDENTITY_KEYS = Object.freeze({ customerId: 'customerId', email: 'email', phone: 'phone' });

export function mapSourceEvent(event: CapillaryEvent, options: MappingOptions): MappingResult<PayloadMessage> {
  try {
    return mapKnown(event, options);
  } catch {
    return { status: 'unmapped', messages: [], warnings: [MAPPING_WARNINGS.mappingError] };
  }
}

function mapKnown(event: CapillaryEvent, options: MappingOptions): MappingResult<PayloadMessage> {
  const sourceOptions: MappingOptions = { ...options, identity: { ...SOURCE_IDENTITY_KEYS, externalId: '', channels: {} } };
  const analysis = analyzeEvent(event, sourceOptions);
  if (analysis === undefined) return { status: 'unmapped', messages: [], warnings: [] };
  const { spec, ctx, family, warnings } = analysis;
  const { identityMap, customerId } = buildIdentities(ctx.data, sourceOptions);
  const messages: PayloadMessage[] = [];

  if (spec.family === 'transactions') {
    const transaction = {
      _id: xdmEventId(event),
      timestamp: ctx.timestamp,
      identityMap: identityMap ?? {},
      commerce: compact({
        commerceScope: { storeCode: asText(at(ctx.data, 'enteredBy', 'store', 'code')) },
        order: { priceTotal: asNumber(ctx.data['amount']) },
      }) ?? {},
      productLineItems: lineItemsOf(ctx.data),
    };
    messages.push({ kind: 'event', payload: JSON.stringify(transaction), sourceCreatedAt: ctx.timestampMs });
  } else if (spec.profile !== 'none' && identityMap !== undefined) {
    const state = family.profile?.loyalty;
    const loyalty = {
      tier: state?.tier,
      points: state?.points,
      lifetimePoints: state?.lifetimePoints,
      expiredPoints: state?.expiredPoints,
      pointsRedeemed: state?.pointsRedeemed,
      program: ctx.program.name ?? ctx.program.id,
      status: state?.status,
    };
    messages.push({
      kind: 'profile',
      payload: JSON.stringify({ identityMap, loyalty: compact(loyalty) ?? {} }),
      // The same out-of-order guard as XDM profile records: an older state never overwrites a newer one.
      ...(customerId !== undefined ? { profileKey: `${customerId}:${ctx.program.id ?? 'default'}` } : {}),
      sourceCreatedAt: trustedSourceTime(event),
    });
  }
  return { status: 'mapped', messages, warnings };
}

/**
 * Capillary's transaction notifications carry no line items (only `lineItemCount`); a payload that
 * does (`lineItems[]`, as the bill APIs write them) gets them, in the source's field names.
 */
function lineItemsOf(data: JsonRecord): JsonRecord[] {
  return asArray(data['lineItems']).flatMap((item) => {
    const line = compact({
      SKU: asId(at(item, 'itemCode')) ?? asId(at(item, 'sku')),
      quantity: asNumber(at(item, 'qty')) ?? asNumber(at(item, 'quantity')),
      priceTotal: asNumber(at(item, 'amount')),
      name: asText(at(item, 'description')) ?? asText(at(item, 'name')),
      discountAmount: asNumber(at(item, 'discount')),
    });
    return line === undefined ? [] : [line];
  });
}
