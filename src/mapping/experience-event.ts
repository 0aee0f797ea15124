import type { CapillaryEvent } from './capillary-event.js';
import { activityOf, storeOf, tillOf, type FamilyOutput, type MappingContext } from './context.js';
import { sha256Hex, type IdentityMap } from './identities.js';
import { asId, asText, compact, type JsonRecord } from './values.js';

/**
 * The XDM ExperienceEvent for one Capillary event (ExperienceEvent class + Commerce Details +
 * Loyalty Event Details + IdentityMap, and `_<tenant>.capillary` when a tenant is configured).
 */
export function buildExperienceEvent(
  ctx: MappingContext,
  identityMap: IdentityMap | undefined,
  family: FamilyOutput,
  tenantKey: string | undefined,
): JsonRecord {
  const entity: JsonRecord = {
    _id: xdmEventId(ctx.event),
    timestamp: ctx.timestamp,
    eventType: family.eventType ?? `loyalty.${ctx.eventName}`,
    identityMap,
    commerce: { ...family.commerce, commerceScope: { storeCode: storeOf(ctx.data).code } },
    loyalty: family.loyalty,
  };
  if (tenantKey !== undefined) {
    entity[tenantKey] = { capillary: { ...commonCapillaryFields(ctx), ...eventCapillaryFields(ctx), ...family.capillary } };
  }
  return compact(entity) ?? {};
}

/** Tenant fields every record carries: which Capillary event and member it came from. */
export function commonCapillaryFields(ctx: MappingContext): JsonRecord {
  const { event, program } = ctx;
  return {
    eventName: ctx.eventName,
    eventId: asText(event.eventId),
    orgId: asId(event.orgId),
    customerId: ctx.customerId,
    program: { id: program.id, name: program.name, isDefault: program.isDefault },
  };
}

/** Tenant fields of the event itself (ExperienceEvents only). */
function eventCapillaryFields(ctx: MappingContext): JsonRecord {
  const { event, data } = ctx;
  return {
    refId: asText(event.refId),
    eventLogId: asId(event.eventLogId),
    apiRequestId: asText(event.apiRequestId),
    loyaltyEventId: asText(event.loyaltyEventId) ?? asText(data['loyaltyEventId']),
    activity: activityOf(data),
    store: storeOf(data),
    till: tillOf(data),
  };
}

/** Characters that make a valid uri-reference in any position (RFC 3986 pchar, without `%` and `/`). */
const URI_SAFE_ID = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `_id` must be a uri-reference and stable across redeliveries, so it is the eventId itself when
 * that is already valid (`4647d7b7-...`, `abacd-12345-ABCD`), else the eventId percent-encoded with
 * encodeURIComponent (deterministic; ids kept as-is never contain `%`, so the two never collide).
 * An event without an id (ingest rejects those) gets a hash of what identifies it.
 */
export function xdmEventId(event: CapillaryEvent): string {
  const eventId = typeof event.eventId === 'string' ? event.eventId : '';
  if (eventId.trim() === '') return `capillary-${sha256Hex(fallbackIdentity(event))}`;
  if (URI_SAFE_ID.test(eventId)) return eventId;
  return encodeURIComponent(eventId.replace(LONE_SURROGATE, '\uFFFD'));
}

function fallbackIdentity(event: CapillaryEvent): string {
  let data = '';
  try {
    data = JSON.stringify(event.data) ?? '';
  } catch {
    // Not JSON-shaped (never the case for wire data): the other fields still identify the event.
  }
  const parts = [event.eventName, event.createdAt, event.receivedAt, event.orgId, event.refId, event.apiRequestId, data];
  return parts.map((part) => String(part)).join('\n');
}
