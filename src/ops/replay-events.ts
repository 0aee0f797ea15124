import { normalizeEnvelope } from '../ingest/envelope.js';
import { withExactEventIds } from '../ingest/exact-event-id.js';
import { mapEvent } from '../mapping/map-event.js';
import type { MappingOptions } from '../mapping/types.js';
import type { MappingResult } from '../mapping/types.js';
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
 */
export async function replayEvents(deps: { store: Store; mapping: MappingOptions; now: number; filter: ReplayFilter }) {
  const events = await deps.store.listEventsForReplay(deps.filter);
  let requeued = 0;
  let stillUnmapped = 0;
  let busy = 0;
  for (const stored of events) {
    let body: unknown;
    try {
      body = JSON.parse(stored.payload);
    } catch {
      stillUnmapped += 1;
      continue;
    }
    const mapping = mapBody(body, stored, deps.mapping);
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
    busy,
    nextAfter: !deps.filter.eventIds && last && events.length === deps.filter.limit ? last.eventId : null,
  };
}
