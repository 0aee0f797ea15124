/**
 * The PostgreSQL store's statements. Column names match the SQLite store's (src/store/shared/views.ts maps
 * rows for both); times are epoch-ms BIGINTs supplied by the caller, never the database clock.
 */
import type { PoolClient } from 'pg';
import type { MappingResult, QueuedMessage } from '../../mapping/types.js';
import { messageBody } from '../shared/message-body.js';
import { customerIdOfEvent, storedAttempt } from '../shared/console-rows.js';
import { MESSAGE_ROWS, messageBodyOf } from '../shared/views.js';
import type { NewEvent, Settlement } from '../types.js';

export interface ClaimRow {
  id: string;
  event_id: string;
  kind: string;
  body: string;
  attempts: number;
  accepted_at: string;
  trace_parent: string | null;
}

const SUPERSEDED = `(m.profile_key IS NOT NULL AND EXISTS (SELECT 1 FROM profile_watermarks w
  WHERE w.profile_key = m.profile_key AND w.newest_created_at > m.source_created_at))`;

export const SQL = {
  insertMessages: `INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at, dead_reason, profile_key, source_created_at, route)`,
  acceptEvents: `SELECT out_accepted AS accepted, out_skipped AS skipped
                 FROM relay_accept_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
  upsertWatermark: `INSERT INTO profile_watermarks AS w (profile_key, newest_created_at) VALUES ($1, $2)
                    ON CONFLICT (profile_key) DO UPDATE SET newest_created_at = GREATEST(w.newest_created_at, EXCLUDED.newest_created_at)
                    RETURNING newest_created_at AS newest`,
  // MATERIALIZED: the locked id list is computed once (a re-scanned subquery could pick other rows).
  claim: `WITH due AS MATERIALIZED (
            SELECT id FROM messages WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= $3 AND ($5::text IS NULL OR route = $5)
            ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
          UPDATE messages m SET state = 'in_flight', next_attempt_at = $1, lease_owner = $2 FROM due WHERE m.id = due.id
          RETURNING m.id, m.event_id, m.kind, ${messageBodyOf('m')} AS body, m.attempts, m.accepted_at,
                    (SELECT trace_parent FROM events e WHERE e.event_id = m.event_id) AS trace_parent`,
  // Every outcome of a batch in one statement (one round trip, atomic without BEGIN/COMMIT), each the
  // change SQLite makes with its own statement (sqlite/statements.ts): delivered (its attempt on the
  // row), retry (or skipped when a newer profile record was queued: the out-of-order guard), release,
  // dead. Only the lease's owner settles.
  settle: `UPDATE messages m SET
             state = CASE u.outcome WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' WHEN 'release' THEN 'pending'
                     ELSE CASE WHEN ${SUPERSEDED} THEN 'skipped' ELSE 'pending' END END,
             attempts = CASE WHEN u.outcome = 'release' THEN m.attempts ELSE m.attempts + 1 END,
             next_attempt_at = CASE WHEN u.outcome IN ('retry', 'release') THEN u.at ELSE m.next_attempt_at END,
             last_error = CASE u.outcome WHEN 'delivered' THEN NULL WHEN 'release' THEN m.last_error ELSE u.error END,
             dead_reason = CASE u.outcome WHEN 'dead' THEN u.reason
                           WHEN 'retry' THEN CASE WHEN ${SUPERSEDED} THEN 'superseded_by_newer_profile' ELSE m.dead_reason END
                           ELSE m.dead_reason END,
             settled_at = CASE WHEN u.outcome IN ('delivered', 'dead') THEN $6 ELSE m.settled_at END,
             lease_owner = NULL,
             delivered_attempt_at = CASE WHEN u.outcome = 'delivered' THEN u.d_at ELSE m.delivered_attempt_at END,
             delivered_duration_ms = CASE WHEN u.outcome = 'delivered' THEN u.d_ms ELSE m.delivered_duration_ms END,
             delivered_status = CASE WHEN u.outcome = 'delivered' THEN u.d_status ELSE m.delivered_status END,
             delivered_batch_size = CASE WHEN u.outcome = 'delivered' THEN u.d_batch ELSE m.delivered_batch_size END,
             delivered_xaction_id = CASE WHEN u.outcome = 'delivered' THEN u.d_xaction ELSE m.delivered_xaction_id END
           FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $8::bigint[], $9::int[], $10::int[], $11::int[], $12::text[])
                AS u(id, outcome, at, reason, error, d_at, d_ms, d_status, d_batch, d_xaction)
           WHERE m.id = u.id AND m.lease_owner = $7 AND m.state = 'in_flight'
           RETURNING m.id, u.outcome`,
  makeDueNow: `UPDATE messages SET next_attempt_at = $1 WHERE state = 'pending' AND next_attempt_at > $1
                 AND split_part(last_error, ':', 1) = ANY($2::text[])`,
  nextDue: `SELECT min(next_attempt_at) AS at FROM messages WHERE state IN ('pending', 'in_flight') AND ($1::text IS NULL OR route = $1)`,
  deadLetters: `SELECT ${MESSAGE_ROWS} WHERE m.state = 'dead' AND m.id > $1 AND ($3::text IS NULL OR m.route = $3) ORDER BY m.id LIMIT $2`,
  eventMessages: `SELECT ${MESSAGE_ROWS} WHERE m.event_id = $1 ORDER BY m.id`,
  // A dead profile record superseded since it died is skipped rather than replayed (as at retry time).
  skipSupersededDead: `UPDATE messages m SET state = 'skipped', dead_reason = 'superseded_by_newer_profile', settled_at = $1
                       WHERE m.state = 'dead' AND m.id = ANY($2::bigint[]) AND ${SUPERSEDED}`,
  replayDead: `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = $1, dead_reason = NULL, settled_at = NULL
               WHERE state = 'dead' AND id = ANY($2::bigint[])`,
  eventsByStatus: `SELECT * FROM events WHERE mapping_status = $1 AND event_id > $2 AND ($4::text IS NULL OR coalesce(route, 'default') = $4) ORDER BY event_id LIMIT $3`,
  eventsAll: `SELECT * FROM events WHERE event_id > $1 AND ($3::text IS NULL OR coalesce(route, 'default') = $3) ORDER BY event_id LIMIT $2`,
  deleteUndelivered: `DELETE FROM messages WHERE event_id = $1 AND state IN ('pending', 'in_flight', 'dead', 'skipped')`,
  queueStats: `SELECT (SELECT count(*) FROM messages WHERE state IN ('pending', 'in_flight')) AS pending,
                      (SELECT min(accepted_at) FROM messages WHERE state IN ('pending', 'in_flight')) AS oldest,
                      (SELECT count(*) FROM messages WHERE state = 'dead') AS dead`,
} as const;

/** Inserts an event's messages; returns how many profile records were skipped as superseded. */
export async function insertMessages(client: PoolClient, eventId: string, route: string, mapping: MappingResult<QueuedMessage>, now: number): Promise<number> {
  if (mapping.messages.length === 0) return 0;
  let skipped = 0;
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (const out of mapping.messages) {
    let state: 'pending' | 'skipped' = 'pending';
    // A profile record without a trustworthy source time is sent, and leaves the watermark alone.
    if (out.kind === 'profile' && out.profileKey !== undefined && out.sourceCreatedAt !== null) {
      // The upsert locks the watermark row until commit, so two replicas cannot both see themselves
      // as newest; it returns max(stored, ours), which is greater than ours only if a newer record is queued.
      const { rows } = await client.query<{ newest: string }>(SQL.upsertWatermark, [out.profileKey, out.sourceCreatedAt]);
      if (Number(rows[0]!.newest) > out.sourceCreatedAt) state = 'skipped';
    }
    if (state === 'skipped') skipped += 1;
    const row = [
      eventId, out.kind, messageBody(out), state, now, now,
      state === 'skipped' ? 'superseded_by_newer_profile' : null, out.profileKey ?? null, out.sourceCreatedAt, route,
    ];
    tuples.push(`(${row.map((_, i) => `$${values.length + i + 1}`).join(', ')})`);
    values.push(...row);
  }
  // One multi-row INSERT; VALUES rows get ids in order, so messages keep the mapper's order.
  await client.query(`${SQL.insertMessages} VALUES ${tuples.join(', ')}`, values);
  return skipped;
}

/**
 * Every settlement in one statement; a delivery's attempt goes on its message row. Answers the ids
 * whose delivery was recorded there: the caller records every other attempt as a row (a delivery
 * whose lease was lost included, so no attempt made goes unrecorded).
 */
export async function settleAll(db: Pick<PoolClient, 'query'>, owner: string, settlements: Settlement[], now: number): Promise<Set<number>> {
  const ids: number[] = [];
  const outcomes: string[] = [];
  const at: (number | null)[] = [];
  const reasons: (string | null)[] = [];
  const errors: (string | null)[] = [];
  const delivered = { at: [] as (number | null)[], ms: [] as (number | null)[], status: [] as (number | null)[], batch: [] as (number | null)[], xaction: [] as (string | null)[] };
  for (const s of settlements) {
    ids.push(s.id);
    outcomes.push(s.outcome);
    at.push(s.outcome === 'retry' || s.outcome === 'release' ? s.nextAttemptAt : null);
    reasons.push(s.outcome === 'dead' ? s.reason : null);
    errors.push(s.outcome === 'retry' || s.outcome === 'dead' ? s.error : null);
    const a = s.outcome === 'delivered' && s.attempt ? storedAttempt(s.attempt) : undefined;
    delivered.at.push(a?.at ?? null);
    delivered.ms.push(a?.durationMs ?? null);
    delivered.status.push(a?.status ?? null);
    delivered.batch.push(a?.batchSize ?? null);
    delivered.xaction.push(a?.xactionId ?? null);
  }
  const { rows } = await db.query<{ id: string; outcome: string }>(SQL.settle, [ids, outcomes, at, reasons, errors, now, owner, delivered.at, delivered.ms, delivered.status, delivered.batch, delivered.xaction]);
  return new Set(rows.filter((r) => r.outcome === 'delivered').map((r) => Number(r.id)));
}

/**
 * A group of events as the arguments of relay_accept_events (migration 4): one array per column,
 * and the messages flattened in order, each tagged with its event's 1-based index.
 */
export function acceptEventsParams(inputs: NewEvent[], notify: { channel: string; payload: string } | undefined): unknown[] {
  const events = { ids: [] as string[], names: [] as string[], envelopes: [] as string[], created: [] as (number | null)[], received: [] as number[] };
  const more = { statuses: [] as string[], payloads: [] as string[], traces: [] as (string | null)[], customers: [] as (string | null)[] };
  const messages = { events: [] as number[], kinds: [] as string[], bodies: [] as string[], keys: [] as (string | null)[], created: [] as (number | null)[] };
  const routes: (string | null)[] = [];
  inputs.forEach(({ event, mapping, payload, traceParent, route, held }, i) => {
    routes.push(route ?? null);
    events.ids.push(event.eventId);
    events.names.push(event.eventName);
    events.envelopes.push(event.envelope);
    events.created.push(event.createdAt ?? null);
    events.received.push(event.receivedAt);
    more.statuses.push(held ? 'held' : mapping.status);
    more.payloads.push(payload);
    more.traces.push(traceParent ?? null);
    more.customers.push(customerIdOfEvent(event));
    // A held event queues nothing (its org is not its route's).
    for (const out of held ? [] : mapping.messages) {
      messages.events.push(i + 1);
      messages.kinds.push(out.kind);
      messages.bodies.push(messageBody(out));
      messages.keys.push(out.profileKey ?? null);
      messages.created.push(out.sourceCreatedAt);
    }
  });
  return [
    events.ids, events.names, events.envelopes, events.created, events.received, more.statuses, more.payloads, more.traces, more.customers,
    messages.events, messages.kinds, messages.bodies, messages.keys, messages.created, notify?.channel ?? null, notify?.payload ?? null, routes,
  ];
}
