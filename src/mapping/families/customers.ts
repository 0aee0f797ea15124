import { customerIdentifiersOf } from '../identities.js';
import type { FamilyOutput, MappingContext } from '../context.js';
import { asArray, asDateTime, asRecord, asText, at, type JsonRecord } from '../values.js';

/**
 * Customer events: customerAdded, customerUpdated, loyaltyCustomerMerge, cardUpdated. Capillary's
 * payloads are thin (customerUpdated only says which fields changed), and the XDM Profile schema used
 * here has no person fields: names go to the tenant object only.
 */
export function mapCustomers(ctx: MappingContext): FamilyOutput {
  const { data, eventName } = ctx;
  if (eventName === 'cardUpdated') return { capillary: { card: cardOf(data) } };

  const identifiers = customerIdentifiersOf(data);
  const status = asRecord(data['customerStatus']);
  const loyaltyType = asText(data['loyaltyType']) ?? asText(identifiers?.['loyaltyType']);
  const customer = {
    firstName: asText(data['firstName']) ?? asText(identifiers?.['firstName']),
    lastName: asText(data['lastName']) ?? asText(identifiers?.['lastName']),
    loyaltyType,
    source: asText(data['source']),
    enteredAt: asDateTime(data['enteredAt']),
    updatedFields: updatedFieldsOf(data['updatedFields']),
    status: asText(status?.['currentLabel']),
    statusReason: asText(status?.['reason']),
  };
  const joined = eventName === 'customerAdded' && (loyaltyType === undefined || loyaltyType.toLowerCase() === 'loyalty');

  return {
    capillary: { customer },
    profile: {
      loyalty: {
        joinDate: joined ? (customer.enteredAt ?? ctx.timestamp) : undefined,
        // "active" unless the event says otherwise (customerStatus.currentLabel: Inactive, Deleted...).
        status: customer.status?.toLowerCase(),
      },
      capillary: {
        customer: {
          firstName: customer.firstName,
          lastName: customer.lastName,
          loyaltyType: customer.loyaltyType,
          status: customer.status,
        },
      },
    },
  };
}

function cardOf(data: JsonRecord): JsonRecord {
  return {
    number: asText(data['cardNumber']),
    status: asText(data['currentStatusLabel']),
    previousStatus: asText(data['previousStatusLabel']),
  };
}

/** `updatedFields: [ { fieldName, ... } ]` (or plain names) -> the names that changed. */
function updatedFieldsOf(value: unknown): string[] {
  return asArray(value)
    .map((item) => asText(item) ?? asText(at(item, 'fieldName')))
    .filter((name): name is string => name !== undefined);
}
