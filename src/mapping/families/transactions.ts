import type { FamilyOutput, MappingContext } from '../context.js';
import { asCurrencyCode, asDateTime, asId, asNumber, asText } from '../values.js';

/**
 * transactionAdded and transactionUpdated. A RETURN bill is a credit memo; a new (not RETURN) bill is
 * a purchase, counted once (`purchases.value: 1`); an update to a bill is `loyalty.transactionUpdated`,
 * so that it is never counted as a second purchase.
 */
export function mapTransactions(ctx: MappingContext): FamilyOutput {
  const { data, eventName } = ctx;
  const billType = asText(data['billType']);
  const isReturn = billType?.toUpperCase() === 'RETURN';
  const isPurchase = eventName === 'transactionAdded' && !isReturn;
  const billNumber = asId(data['billNumber']);
  const amount = asNumber(data['amount']);
  const discount = asNumber(data['discount']);

  return {
    eventType: isReturn ? 'commerce.backofficeCreditMemoIssued' : isPurchase ? 'commerce.purchases' : undefined,
    commerce: {
      order: {
        purchaseID: billNumber,
        priceTotal: amount,
        discountAmount: discount,
        currencyCode: asCurrencyCode(data['currencyCode']),
      },
      purchases: isPurchase ? { value: 1 } : undefined,
    },
    capillary: {
      transaction: {
        id: asId(data['transactionId']),
        billNumber,
        billClientId: asId(data['billClientId']),
        billType,
        amount,
        grossAmount: asNumber(data['grossAmount']),
        discount,
        currencyCode: asText(data['currencyCode']),
        lineItemCount: asNumber(data['lineItemCount']),
        deliveryStatus: asText(data['deliveryStatus']),
        enteredAt: asDateTime(data['enteredAt']),
      },
    },
  };
}
