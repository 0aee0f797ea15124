import type { CapillaryEvent } from '../capillary-event.js';
import type { MappingResult, PayloadMessage } from '../types.js';

/**
 * AEP_OUTPUT=raw: the webhook body exactly as Capillary sent it, for a customer's own HTTP API
 * dataflow whose Data Prep mapping reads Capillary's fields. Every event is sent, known name or not:
 * the mapping downstream is the customer's.
 */
export function mapRawEvent(event: CapillaryEvent, body: string): MappingResult<PayloadMessage> {
  return { status: 'mapped', messages: [{ kind: 'event', payload: body, sourceCreatedAt: event.createdAt ?? event.receivedAt }], warnings: [] };
}
