import type { PoolClient } from 'pg';
import { SQL } from './sql.js';

/** Rows one transaction of a long store job touches (issue 12): no statement locks the whole table. */
export const PRUNE_CHUNK_ROWS = 1000;
export const REPLAY_CHUNK_ROWS = 1000;

// Prune, a bounded chunk at a time ($4 rows), walking messages_prunable / events_received_id by
// keyset ($2, $3: the last row seen), so rows kept for a reason are passed over once. Each chunk is
// one statement, so its own short transaction.
const PRUNE_MESSAGES_CHUNK = `WITH seen AS (
    SELECT id, accepted_at FROM messages WHERE state IN ('delivered', 'skipped') AND accepted_at < $1
      AND (accepted_at, id) > ($2::bigint, $3::bigint) ORDER BY accepted_at, id LIMIT $4),
  gone AS (
    DELETE FROM messages m USING seen WHERE m.id = seen.id AND m.state IN ('delivered', 'skipped')
      AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.event_id = m.event_id AND o.state IN ('pending', 'in_flight', 'dead'))
    RETURNING 1)
  SELECT (SELECT count(*) FROM seen) AS seen, (SELECT count(*) FROM gone) AS deleted,
         last.accepted_at AS last_at, last.id::text AS last_key
    FROM (SELECT 1) one LEFT JOIN (SELECT accepted_at, id FROM seen ORDER BY accepted_at DESC, id DESC LIMIT 1) last ON true`;

// The pruned events' delivery attempts (the console's log, issue 14) go with them.
const PRUNE_EVENTS_CHUNK = `WITH seen AS (
    SELECT event_id, received_at FROM events WHERE received_at < $1
      AND (received_at, event_id) > ($2::bigint, $3::text) ORDER BY received_at, event_id LIMIT $4),
  gone AS (
    DELETE FROM events e USING seen WHERE e.event_id = seen.event_id AND e.mapping_status NOT IN ('unmapped', 'held')
      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.event_id = e.event_id)
    RETURNING e.event_id),
  attempts AS (DELETE FROM delivery_attempts a USING gone WHERE a.event_id = gone.event_id RETURNING 1)
  SELECT (SELECT count(*) FROM seen) AS seen, (SELECT count(*) FROM gone) AS deleted,
         (SELECT count(*) FROM attempts) AS attempts,
         last.received_at AS last_at, last.event_id AS last_key
    FROM (SELECT 1) one LEFT JOIN (SELECT received_at, event_id FROM seen ORDER BY received_at DESC, event_id DESC LIMIT 1) last ON true`;

const DEAD_CHUNK = `SELECT id FROM messages WHERE state = 'dead' AND id > $1 ORDER BY id LIMIT $2 FOR UPDATE`;

type ChunkRow = { seen: string; deleted: string; last_at: string | null; last_key: string | null };

/**
 * Prunes in chunks on one connection (the caller holds the retention lock on it); `stopped()` ends it
 * between chunks (the store is closing: the next prune carries on).
 */
export async function pruneInChunks(client: PoolClient, olderThan: number, stopped: () => boolean): Promise<{ events: number; messages: number }> {
  const chunks = async (text: string, start: [number, string]) => {
    let deleted = 0;
    for (let cursor = start; !stopped(); ) {
      const row = (await client.query<ChunkRow>(text, [olderThan, cursor[0], cursor[1], PRUNE_CHUNK_ROWS])).rows[0]!;
      deleted += Number(row.deleted);
      if (Number(row.seen) < PRUNE_CHUNK_ROWS || row.last_at === null) return deleted;
      cursor = [Number(row.last_at), row.last_key!];
    }
    return deleted;
  };
  const messages = await chunks(PRUNE_MESSAGES_CHUNK, [-1, '0']);
  const events = await chunks(PRUNE_EVENTS_CHUNK, [-1, '']);
  return { events, messages };
}

/**
 * One chunk of the replay of every dead letter, inside the caller's transaction: the next ids after
 * `afterId`, locked; superseded profile records among them skipped (the watermark's guard), the rest
 * re-queued. Returns the last id seen (undefined: no dead letters left) and how many were re-queued.
 */
export async function replayDeadChunk(client: PoolClient, afterId: number, now: number): Promise<{ last: number | undefined; replayed: number }> {
  const ids = (await client.query<{ id: string }>(DEAD_CHUNK, [afterId, REPLAY_CHUNK_ROWS])).rows.map((r) => Number(r.id));
  if (ids.length === 0) return { last: undefined, replayed: 0 };
  await client.query(SQL.skipSupersededDead, [now, ids]);
  const replayed = (await client.query(SQL.replayDead, [now, ids])).rowCount ?? 0;
  return { last: ids[ids.length - 1], replayed };
}
