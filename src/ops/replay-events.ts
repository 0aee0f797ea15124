import { normalizeEnvelope } from '../ingest/envelope.js';
import { withExactEventIds } from '../ingest/exact-event-id.js';
import type { MappingOptions } from '../mapping/types.js';
import type { MappingResult, QueuedMessage } from '../mapping/types.js';
import { routeOutput, type RouteOutput } from '../routes/route-output.js';
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
 * Events re-mapped per chunk (issue 12). A chunk's writes leave in one event-loop turn, so the SQLite
 * store commits them in one transaction (one fsync, not one per event), and mapping a chunk holds
 * the event loop for a few milliseconds before webhooks get their turn again. Measured with
 * `npm run bench:replay-stall` (10,000 events, webhooks at 200/s): 20, 50 and 200 per chunk gave a
 * webhook p99 of 22-32, 26-36 and 50-250 ms; 50 keeps the stall near 20 with fewer fsyncs than 20.
 */
export const REPLAY_CHUNK_EVENTS = 50;

export interface ReplayResult {
  examined: number;
  requeued: number;
  stillUnmapped: number;
  stillHeld?: number;
  busy: number;
  nextAfter: string | null;
}

type ReplayDeps = { store: Store; now: number; filter: ReplayFilter; onChunk?: (examined: number) => void; signal?: AbortSignal } & (
  | { routeOf: (routeId: string) => RouteOutput | undefined }
  | { mapping: MappingOptions }
);

/**
 * Re-maps stored events from their raw payload with today's mapper and queues what it produces:
 * how events that arrived before their mapping existed (or under an older one) reach Adobe.
 * ExperienceEvents keep their `_id`, so Adobe sees a re-sent event as the same event.
 * Each event is mapped by its own route as it is now (issue 13): an event whose route is gone, or
 * whose org the route still does not list, is left as it is (`stillHeld`); a held event whose org
 * the fixed routes file now lists is released.
 * Works a chunk at a time and yields between chunks (issue 12); `onChunk` hears the running count,
 * and an aborted `signal` stops it between chunks (every chunk done is committed and stands).
 */
export async function replayEvents(deps: ReplayDeps): Promise<ReplayResult> {
  // `mapping` alone: every event mapped to XDM with it, whatever its route (the single-route relay).
  const xdm = 'mapping' in deps ? routeOutput({ id: 'default', orgIds: undefined, output: 'xdm', mapping: deps.mapping }) : undefined;
  const routeOf = 'routeOf' in deps ? deps.routeOf : () => xdm;
  const { filter } = deps;
  const counts = { examined: 0, requeued: 0, stillUnmapped: 0, stillHeld: 0, busy: 0 };
  let last: StoredEvent | undefined;
  /** How far through the request: ids taken from `eventIds`, or events read by filter. */
  let position = 0;
  for (;;) {
    deps.signal?.throwIfAborted();
    const size = Math.min(REPLAY_CHUNK_EVENTS, (filter.eventIds?.length ?? filter.limit) - position);
    if (size <= 0) break;
    const after = last?.eventId ?? filter.afterEventId;
    const chunk = filter.eventIds
      ? await deps.store.listEventsForReplay({ eventIds: filter.eventIds.slice(position, position + size), limit: size })
      : await deps.store.listEventsForReplay({ ...filter, limit: size, ...(after !== undefined ? { afterEventId: after } : {}) });
    await replayChunk(deps.store, routeOf, deps.now, chunk, counts);
    position += filter.eventIds ? size : chunk.length;
    counts.examined += chunk.length;
    last = chunk[chunk.length - 1] ?? last;
    deps.onChunk?.(position);
    if (!filter.eventIds && chunk.length < size) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { stillHeld, ...rest } = counts;
  return {
    ...rest,
    // Only when some are: a relay without routes answers as it always did.
    ...(stillHeld > 0 ? { stillHeld } : {}),
    nextAfter: !filter.eventIds && last && counts.examined === filter.limit ? last.eventId : null,
  };
}

async function replayChunk(
  store: Store,
  routeOf: (routeId: string) => RouteOutput | undefined,
  now: number,
  chunk: StoredEvent[],
  counts: { requeued: number; stillUnmapped: number; stillHeld: number; busy: number },
) {
  const outcomes = chunk.map((stored) => {
    let body: unknown;
    try {
      body = JSON.parse(stored.payload);
    } catch {
      counts.stillUnmapped += 1;
      return undefined;
    }
    const normalized = normalizeEnvelope(withExactEventIds(body, stored.payload), stored.receivedAt);
    const route = routeOf(stored.route);
    if (normalized.ok && (!route || !route.admits(normalized.event))) {
      counts.stillHeld += 1;
      return undefined;
    }
    const mapping: MappingResult<QueuedMessage> = normalized.ok && route ? route.map(normalized.event, stored.payload) : { status: 'unmapped', messages: [], warnings: [] };
    // Not awaited one by one: the whole chunk's writes reach the store in the same turn.
    return store.replaceMessages(stored.eventId, mapping, now).then((replaced) => ({ replaced, mapping }));
  });
  for (const outcome of await Promise.all(outcomes)) {
    if (!outcome) continue;
    if (!outcome.replaced) counts.busy += 1;
    else if (outcome.mapping.status === 'unmapped') counts.stillUnmapped += 1;
    else if (outcome.mapping.messages.length > 0) counts.requeued += 1;
  }
}
