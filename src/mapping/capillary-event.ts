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

/**
 * Length caps on wire text, checked before any parsing, so that no value, however long, costs more
 * than a glance at its length (issue 10, item 5).
 *
 * An id longer than 1024 characters is not an id: Capillary's are UUIDs or numbers, and no one could
 * look such an identity up in AEP. The envelope's eventId schema uses the same bound.
 */
export const MAX_ID_LENGTH = 1024;

/**
 * A number as Capillary writes it is at most a Java long (19 digits and a sign), a BigDecimal amount
 * (`12345678.123456`) or a double's toString (`-1.2345678901234567E-308`, 24 characters): 64 leaves
 * room for padding and trailing zeros. Longer text is not a number; it costs nothing to refuse.
 */
export const MAX_NUMBER_TEXT_LENGTH = 64;

/**
 * The longest date-time form the mapper reads is `2021-04-27T10:37:21.123456789 +05:30`
 * (36 characters); 64 leaves room for surrounding blanks.
 */
export const MAX_DATE_TEXT_LENGTH = 64;
