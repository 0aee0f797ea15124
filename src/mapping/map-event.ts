import type { CapillaryEvent } from './capillary-event.js';
import { programOf, type FamilyOutput, type MappingContext } from './context.js';
import { toDcsMessage } from './dcs-message.js';
import { eventSpec, type EventSpec } from './event-families.js';
import { buildExperienceEvent } from './experience-event.js';
import { FAMILY_MAPPERS } from './families/index.js';
import { buildIdentities, type Identities } from './identities.js';
import { buildProfileRecord, trustedSourceTime } from './profile-record.js';
import type { MappingOptions, MappingResult, OutboundMessage } from './types.js';
import { asRecord, epochMsToIso } from './values.js';

/** Stable warning codes (counted in metrics, logged, shown in the admin API). */
export const MAPPING_WARNINGS = Object.freeze({
  /** The event names nobody: it is sent, but AEP cannot stitch it to a profile. */
  noIdentity: 'no_identity',
  /** Neither createdAt nor receivedAt was a usable instant: the timestamp is the Unix epoch. */
  invalidTimestamp: 'invalid_timestamp',
  /** The event had no eventId: `_id` is a hash of its content (ingest normally rejects these). */
  missingEventId: 'missing_event_id',
  /** The mapper failed unexpectedly: the event is reported unmapped so it can be replayed after a fix. */
  mappingError: 'mapping_error',
});

/**
 * Maps one Capillary event to the DCS messages to send: an ExperienceEvent for every known event,
 * plus a Profile record when the event carries the member's loyalty state and a profile dataset is
 * configured. Pure: the same event and options always give the same result; no I/O, no clock.
 * Never throws.
 */
export function mapEvent(event: CapillaryEvent, options: MappingOptions): MappingResult {
  try {
    return mapKnownEvent(event, options);
  } catch {
    return { status: 'unmapped', messages: [], warnings: [MAPPING_WARNINGS.mappingError] };
  }
}

/** What every output (XDM here, the Capillary source's payloads in source/) reads from an event. */
export interface EventAnalysis {
  spec: EventSpec;
  ctx: MappingContext;
  family: FamilyOutput;
  identities: Identities;
  warnings: string[];
}

/** The event read once: its family's fields, identities and time. undefined for an unknown event name. */
export function analyzeEvent(event: CapillaryEvent, options: MappingOptions): EventAnalysis | undefined {
  const eventName = typeof event.eventName === 'string' ? event.eventName : '';
  const spec = eventSpec(eventName);
  if (spec === undefined) return undefined;

  const warnings: string[] = [];
  const time = eventTime(event);
  if (time.valid === false) warnings.push(MAPPING_WARNINGS.invalidTimestamp);
  if (typeof event.eventId !== 'string' || event.eventId.trim() === '') warnings.push(MAPPING_WARNINGS.missingEventId);

  const data = asRecord(event.data) ?? {};
  const identities = buildIdentities(data, options);
  if (identities.identityMap === undefined) warnings.push(MAPPING_WARNINGS.noIdentity);

  const ctx: MappingContext = {
    event,
    eventName,
    data,
    options,
    timestampMs: time.ms,
    timestamp: time.iso,
    customerId: identities.customerId,
    program: programOf(data),
  };
  return { spec, ctx, family: FAMILY_MAPPERS[spec.family](ctx), identities, warnings };
}

function mapKnownEvent(event: CapillaryEvent, options: MappingOptions): MappingResult {
  const analysis = analyzeEvent(event, options);
  if (analysis === undefined) return { status: 'unmapped', messages: [], warnings: [] };
  const { spec, ctx, family, identities, warnings } = analysis;
  const tenantKey = tenantKeyOf(options.tenantId);

  const messages: OutboundMessage[] = [
    {
      kind: 'event',
      message: toDcsMessage(buildExperienceEvent(ctx, identities.identityMap, family, tenantKey), options.event, options),
      sourceCreatedAt: ctx.timestampMs,
    },
  ];
  const profile = buildProfileRecord(ctx, spec.profile, identities.identityMap, family, tenantKey);
  if (profile !== undefined && options.profile !== undefined) {
    messages.push({
      kind: 'profile',
      message: toDcsMessage(profile.entity, options.profile, options),
      profileKey: profile.profileKey,
      sourceCreatedAt: trustedSourceTime(event),
    });
  }
  return { status: 'mapped', messages, warnings };
}

/** createdAt, else receivedAt (the relay's acceptance time), as epoch ms and ISO-8601 UTC. */
function eventTime(event: CapillaryEvent): { ms: number; iso: string; valid: boolean } {
  for (const candidate of [event.createdAt, event.receivedAt]) {
    if (typeof candidate !== 'number') continue;
    const iso = epochMsToIso(candidate);
    // `|| 0` turns -0 into 0, so sourceCreatedAt compares and serialises as written.
    if (iso !== undefined) return { ms: Math.trunc(candidate) || 0, iso, valid: true };
  }
  return { ms: 0, iso: new Date(0).toISOString(), valid: false };
}

/** `_<tenantId>`; the id is configured without the underscore, but one given with it still works. */
function tenantKeyOf(tenantId: string | undefined): string | undefined {
  const id = typeof tenantId === 'string' ? tenantId.trim().replace(/^_+/, '') : '';
  return id === '' ? undefined : `_${id}`;
}
