import { normalizeEnvelope } from '../ingest/envelope.js';
import { withExactEventIds } from '../ingest/exact-event-id.js';
import { mapEvent } from '../mapping/map-event.js';
import type { MappingOptions } from '../mapping/types.js';
import type { MappingResult, QueuedMessage } from '../mapping/types.js';
import { routeOutput, type RouteOutput } from '../mapping/route-output.js';
import type { ReplayFilter, Store, StoredEvent } from '../store/types.js';

function mapBody(body: unknown, stored: StoredEvent, options: MappingOptions): MappingResult {
  const normalized = normalizeEnvelope(withExactEventIds(body, stored.payload), stored.receivedAt);
  return normalized.ok ? mapEvent(normalized.event, options) : { status: 'unmapped', messages: [], warnings: [] };
}

/** A stored event mapped again from its raw payload with today's mapper (what a replay would queue). */
export function remapStored(stored: StoredEvent, options: MappingOptions): MappingResult {
  let body: unknown;
  try {
    body = JSON.parse(stored.payload);
  } catch {
    return { status: 'unmapped', messages: [], warnings: ['the stored payload is not JSON'] };
  }
  return mapBody(body, stored, options);
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
