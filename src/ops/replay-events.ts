import { normalizeEnvelope } from '../ingest/envelope.js';
import { withExactEventIds } from '../ingest/exact-event-id.js';
import type { MappingOptions } from '../mapping/types.js';
import type { MappingResult, QueuedMessage } from '../mapping/types.js';
import { routeOutput, type RouteOutput } from '../mapping/route-output.js';
import type { ReplayFilter, Store, StoredEvent } from '../store/types.js';

/**
 * What a replay would queue for one stored event, by its own route as it is now (issue 13): `held`
 * when the route is gone or still does not list the event's org. Source and raw payloads are shown as
 * the JSON they are sent as.
 */
export function previewStored(stored: StoredEvent, route: RouteOutput | undefined): { status: 'mapped' | 'unmapped' | 'held'; warnings: string[]; messages: { kind: 'event' | 'profile'; message: unknown }[] } {
  let body: unknown;
  try {
    body = JSON.parse(stored.payload);
  } catch {
    return { status: 'unmapped', warnings: ['the stored payload is not JSON'], messages: [] };
  }
  const normalized = normalizeEnvelope(withExactEventIds(body, stored.payload), stored.receivedAt);
  if (!normalized.ok) return { status: 'unmapped', warnings: [], messages: [] };
  if (!route || !route.admits(normalized.event)) return { status: 'held', warnings: [], messages: [] };
  const mapping = route.map(normalized.event, stored.payload);
  return { status: mapping.status, warnings: mapping.warnings, messages: mapping.messages.map((m) => ({ kind: m.kind, message: 'payload' in m ? parsedOr(m.payload) : m.message })) };
}

function parsedOr(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return payload;
  }
}

/**
 * Re-maps stored events from their raw payload with today's mapper and queues what it produces:
 * how events that arrived before their mapping existed (or under an older one) reach Adobe.
 * ExperienceEvents keep their `_id`, so Adobe sees a re-sent event as the same event.
 * Each event is mapped by its own route as it is now (issue 13): an event whose route is gone, or
 * whose org the route still does not list, is left as it is (`stillHeld`); a held event whose org
 * the fixed routes file now lists is released.
 */
export async function replayEvents(deps: { store: Store; now: number; filter: ReplayFilter } & ({ routeOf: (routeId: string) => RouteOutput | undefined } | { mapping: MappingOptions })) {
  // `mapping` alone: every event mapped to XDM with it, whatever its route (the single-route relay).
  const xdm = 'mapping' in deps ? routeOutput({ id: 'default', orgIds: undefined, output: 'xdm', mapping: deps.mapping }) : undefined;
  const routeOf = 'routeOf' in deps ? deps.routeOf : () => xdm;
  const events = await deps.store.listEventsForReplay(deps.filter);
  let requeued = 0;
  let stillUnmapped = 0;
  let stillHeld = 0;
  let busy = 0;
  for (const stored of events) {
    let body: unknown;
    try {
      body = JSON.parse(stored.payload);
    } catch {
      stillUnmapped += 1;
      continue;
    }
    const normalized = normalizeEnvelope(withExactEventIds(body, stored.payload), stored.receivedAt);
    const route = routeOf(stored.route);
    if (normalized.ok && (!route || !route.admits(normalized.event))) {
      stillHeld += 1;
      continue;
    }
    const mapping: MappingResult<QueuedMessage> = normalized.ok && route ? route.map(normalized.event, stored.payload) : { status: 'unmapped', messages: [], warnings: [] };
    if (!(await deps.store.replaceMessages(stored.eventId, mapping, deps.now))) {
      busy += 1;
      continue;
    }
    if (mapping.status === 'unmapped') stillUnmapped += 1;
    else if (mapping.messages.length > 0) requeued += 1;
  }
  const last = events[events.length - 1];
  return {
    examined: events.length,
    requeued,
    stillUnmapped,
    // Only when some are: a relay without routes answers as it always did.
    ...(stillHeld > 0 ? { stillHeld } : {}),
    busy,
    nextAfter: !deps.filter.eventIds && last && events.length === deps.filter.limit ? last.eventId : null,
  };
}
