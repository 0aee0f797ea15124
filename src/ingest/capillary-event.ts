/**
 * The one normalized form of a Capillary event, whatever envelope it arrived in
 * (flat, wrapped in `body`, or the notification service's `eventType`/`attributes` form).
 * Everything downstream of ingest (store, mapper, admin API) sees only this.
 */
export type EnvelopeShape = 'flat' | 'wrapped' | 'internal';

export interface CapillaryEvent {
  /** Capillary's idempotency key: a repeated eventId is the same event. */
  eventId: string;
  /** Case-sensitive (`CouponIssue`, `pointsIssued`). Empty string when the sender gave none. */
  eventName: string;
  /** Epoch milliseconds from `createdAt` (floats truncated); undefined when absent or unreadable. */
  createdAt: number | undefined;
  /** Epoch milliseconds at which the relay accepted the event; the mapper's fallback timestamp. */
  receivedAt: number;
  orgId: string | undefined;
  refId: string | undefined;
  apiRequestId: string | undefined;
  eventLogId: string | undefined;
  loyaltyEventId: string | undefined;
  envelope: EnvelopeShape;
  /** The event's `data` object (empty object when absent). */
  data: Record<string, unknown>;
}
