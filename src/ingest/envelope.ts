import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { MAX_ID_LENGTH, MAX_NUMBER_TEXT_LENGTH, type CapillaryEvent, type EnvelopeShape } from '../mapping/capillary-event.js';

/**
 * The three envelope shapes Capillary is documented to send (shared Capillary notes):
 *   flat      { eventName, eventId, orgId, createdAt, data, ... }
 *   wrapped   { body: { ...flat... } }
 *   internal  { eventId, eventType: "<orgId>_<eventName>", attributes: { eventName, createdAt, data, ... } }
 * The schemas only demand what makes a body an event at all: an event id. Everything else is read
 * leniently, because a 400 makes Capillary drop the event for good.
 */
const EventId = Type.Union([Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: '\\S' }), Type.Number()]);

export const FlatEnvelopeSchema = Type.Object({ eventId: EventId }, { additionalProperties: true });
export const WrappedEnvelopeSchema = Type.Object({ body: FlatEnvelopeSchema }, { additionalProperties: true });
export const InternalEnvelopeSchema = Type.Object(
  { eventId: EventId, attributes: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: true },
);

type Flat = Static<typeof FlatEnvelopeSchema> & Record<string, unknown>;
type Internal = Static<typeof InternalEnvelopeSchema> & { attributes: Record<string, unknown> } & Record<string, unknown>;

const ajv = new Ajv({ strict: false });
const isInternal = ajv.compile<Internal>(InternalEnvelopeSchema);
const isWrapped = ajv.compile<{ body: Flat }>(WrappedEnvelopeSchema);
const isFlat = ajv.compile<Flat>(FlatEnvelopeSchema);

export type NormalizeResult = { ok: true; event: CapillaryEvent } | { ok: false; code: 'no_event_id'; message: string };

/**
 * Integers written as floats (`1720440349027.0`, `50952.0`) become plain integer strings. NUL
 * characters (`\u0000` in the JSON) are dropped: PostgreSQL cannot store them in text, and an id
 * the store refuses would be answered 503 forever. Text longer than MAX_ID_LENGTH is no id.
 */
export function idToString(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? (Number.isInteger(value) ? BigInt(value).toString() : String(value)) : undefined;
  if (typeof value === 'string') {
    if (value.length > MAX_ID_LENGTH) return undefined;
    const trimmed = value.replaceAll('\u0000', '').trim();
    if (trimmed === '') return undefined;
    return /^-?\d+\.0+$/.test(trimmed) ? trimmed.replace(/\.0+$/, '') : trimmed;
  }
  return undefined;
}

function epochMillis(value: unknown): number | undefined {
  const readable = typeof value === 'string' && value.length <= MAX_NUMBER_TEXT_LENGTH && value.trim() !== '';
  const n = typeof value === 'number' ? value : readable ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  // Accept only what renders as a valid date (up to year 275760).
  return n <= 8.64e15 ? Math.trunc(n) : undefined;
}

const asObject = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

function fromFields(eventId: string, fields: Record<string, unknown>, envelope: EnvelopeShape, receivedAt: number, eventName: unknown): CapillaryEvent {
  return {
    eventId,
    eventName: typeof eventName === 'string' ? eventName.replaceAll('\u0000', '').trim() : '',
    createdAt: epochMillis(fields['createdAt']),
    receivedAt,
    orgId: idToString(fields['orgId']),
    refId: idToString(fields['refId']),
    apiRequestId: idToString(fields['apiRequestId']),
    eventLogId: idToString(fields['eventLogId']),
    loyaltyEventId: idToString(fields['loyaltyEventId']),
    envelope,
    data: asObject(fields['data']),
  };
}

/** Reads any of the three envelopes into one CapillaryEvent, or says why the body is not an event. */
export function normalizeEnvelope(body: unknown, receivedAt: number): NormalizeResult {
  if (isInternal(body)) {
    const attributes = body.attributes;
    const eventId = idToString(body.eventId);
    if (eventId !== undefined) {
      // eventType is "<orgId>_<eventName>"; attributes.eventName wins when present.
      const fromType = typeof body['eventType'] === 'string' ? (body['eventType'] as string).replace(/^[^_]*_/, '') : undefined;
      // The org is the numeric prefix of eventType when attributes do not name it (routes check it, issue 13).
      const orgFromType = typeof body['eventType'] === 'string' ? /^(\d{1,19})_/.exec(body['eventType'] as string)?.[1] : undefined;
      const merged = { ...attributes, createdAt: attributes['createdAt'] ?? body['timeStamp'], orgId: attributes['orgId'] ?? orgFromType };
      return { ok: true, event: fromFields(eventId, merged, 'internal', receivedAt, attributes['eventName'] ?? fromType) };
    }
  }
  if (isWrapped(body)) {
    const eventId = idToString(body.body.eventId);
    if (eventId !== undefined) return { ok: true, event: fromFields(eventId, body.body, 'wrapped', receivedAt, body.body['eventName']) };
  }
  if (isFlat(body)) {
    const eventId = idToString(body.eventId);
    if (eventId !== undefined) return { ok: true, event: fromFields(eventId, body, 'flat', receivedAt, body['eventName']) };
  }
  return {
    ok: false,
    code: 'no_event_id',
    message: 'The body is not a Capillary event: no eventId in the flat, wrapped (body) or attributes envelope',
  };
}
