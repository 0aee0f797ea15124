import type Database from 'better-sqlite3';
import { createChunkSizer, type ChunkSizer } from './chunk-sizer.js';

/** A dead profile record superseded by a newer record for the same member (the watermark's guard). */
export const SUPERSEDED = `(profile_key IS NOT NULL AND EXISTS (SELECT 1 FROM profile_watermarks w
  WHERE w.profile_key = messages.profile_key AND w.newest_created_at > messages.source_created_at))`;

export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The prune rests this many times as long as its last chunk took before the next one (at most
 * 100 ms), so it uses at most a quarter of the store's time and of the disk. A prune running flat
 * out made every webhook wait for megabytes of the prune's WAL (the bench's 1,000,000-row prune:
 * p50 16 ms, p99 368 ms). Retention is not urgent; webhooks are.
 *
 * Each chunk is fsynced as it commits. Chunks used to skip their fsync, but that did not remove
 * their writes: the next webhook commit's fsync carried them, so webhooks paid for the prune's IO
 * while the chunk sizer and this rest, timing the chunk without it, never saw it. Measured side by
 * side (bench --only=stall, one run each, load average 3-4): webhook p99 128 ms (max 298) with the
 * chunks unsynced, 23.3 ms (max 56) fsynced, and the prune took 77 s instead of 99.
 */
export const PRUNE_REST_FACTOR = 3;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Prune and the replay of every dead letter on SQLite, a bounded chunk per transaction with a turn
 * of the event loop between chunks, instead of one statement over the whole table. Both walk an
 * index by keyset (messages_prunable, events_received_id, messages_dead), so rows kept for a reason
 * (a dead sibling, an unmapped event) are passed over once, not rescanned by every chunk.
 * Each chunk touches as many rows as fit in a few milliseconds (chunk-sizer.ts), so a webhook commit
 * never waits long behind one. `stopped()` ends a job between chunks (the store is closing); what is
 * done so far is committed.
 */
export function createSqliteLongJobs(
  db: Database.Database,
  stopped: () => boolean,
  options: { chunkSizer?: () => ChunkSizer; rest?: (ms: number) => Promise<void> } = {},
) {
  const sizer = options.chunkSizer ?? createChunkSizer;
  const rest = options.rest ?? sleep;
  const restAfter = (chunks: ChunkSizer) => rest(Math.min(100, chunks.lastMs * PRUNE_REST_FACTOR));
  const sql = {
    prunableMessages: db.prepare(
      `SELECT id, accepted_at FROM messages WHERE state IN ('delivered', 'skipped') AND accepted_at < ?
         AND (accepted_at, id) > (?, ?) ORDER BY accepted_at, id LIMIT ?`,
    ),
    pruneMessages: db.prepare(
      `DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?)) AND state IN ('delivered', 'skipped')
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.event_id = messages.event_id AND m.state IN ('pending', 'in_flight', 'dead'))`,
    ),
    olderEvents: db.prepare(
      `SELECT event_id, received_at FROM events WHERE received_at < ? AND (received_at, event_id) > (?, ?)
         ORDER BY received_at, event_id LIMIT ?`,
    ),
    prunableEvents: db.prepare(
      `SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?)) AND mapping_status NOT IN ('unmapped', 'held')
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.event_id = events.event_id)`,
    ),
    pruneAttempts: db.prepare('DELETE FROM delivery_attempts WHERE event_id IN (SELECT value FROM json_each(?))'),
    pruneEvents: db.prepare('DELETE FROM events WHERE event_id IN (SELECT value FROM json_each(?))'),
    deadAfter: db.prepare(`SELECT id FROM messages WHERE state = 'dead' AND id > ? ORDER BY id LIMIT ?`),
    skipSupersededDead: db.prepare(
      `UPDATE messages SET state = 'skipped', dead_reason = 'superseded_by_newer_profile', settled_at = ?
         WHERE state = 'dead' AND id IN (SELECT value FROM json_each(?)) AND ${SUPERSEDED}`,
    ),
    replayDead: db.prepare(
      `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = ?, dead_reason = NULL, settled_at = NULL
         WHERE state = 'dead' AND id IN (SELECT value FROM json_each(?))`,
    ),
  };

  const pruneMessagesChunk = db.transaction((olderThan: number, afterAt: number, afterId: number, rows: number) => {
    const seen = sql.prunableMessages.all(olderThan, afterAt, afterId, rows) as { id: number; accepted_at: number }[];
    const deleted = seen.length === 0 ? 0 : sql.pruneMessages.run(JSON.stringify(seen.map((r) => r.id))).changes;
    return { seen, deleted };
  });

  const pruneEventsChunk = db.transaction((olderThan: number, afterAt: number, afterId: string, rows: number) => {
    const seen = sql.olderEvents.all(olderThan, afterAt, afterId, rows) as { event_id: string; received_at: number }[];
    if (seen.length === 0) return { seen, deleted: 0 };
    const gone = JSON.stringify((sql.prunableEvents.all(JSON.stringify(seen.map((r) => r.event_id))) as { event_id: string }[]).map((r) => r.event_id));
    sql.pruneAttempts.run(gone);
    return { seen, deleted: sql.pruneEvents.run(gone).changes };
  });

  // A dead profile record whose member has a newer record queued since would overwrite newer state
  // in AEP if sent now: it is skipped, as at retry time, and not counted as replayed.
  const replayDeadChunk = db.transaction((afterId: number, now: number, rows: number) => {
    const ids = (sql.deadAfter.all(afterId, rows) as { id: number }[]).map((r) => r.id);
    if (ids.length === 0) return { last: undefined, replayed: 0 };
    const json = JSON.stringify(ids);
    sql.skipSupersededDead.run(now, json);
    return { last: ids[ids.length - 1], replayed: sql.replayDead.run(now, json).changes };
  });

  /**
   * Runs a prune's `chunk` by keyset from `start` until a chunk comes back short, each chunk sized
   * by time (its fsync included), and followed by a rest; returns how many rows it deleted.
   */
  const pruneInChunks = async <Row, Key>(start: Key, chunk: (after: Key, rows: number) => { seen: Row[]; deleted: number }, keyOf: (last: Row) => Key) => {
    let deleted = 0;
    const chunks = sizer();
    for (let after = start; !stopped(); await restAfter(chunks)) {
      const rows = chunks.rows;
      const done = chunks.time((n) => chunk(after, n));
      deleted += done.deleted;
      const last = done.seen[done.seen.length - 1];
      if (!last || done.seen.length < rows) break;
      after = keyOf(last);
    }
    return deleted;
  };

  // Each chunk reads and then writes: BEGIN IMMEDIATE takes the write lock first, so a checkpoint
  // between the read and the write cannot fail the chunk with SQLITE_BUSY (a stale read snapshot).
  return {
    async prune(olderThan: number) {
      const messages = await pruneInChunks<{ id: number; accepted_at: number }, [number, number]>(
        [-1, 0],
        ([at, id], rows) => pruneMessagesChunk.immediate(olderThan, at, id, rows),
        (last) => [last.accepted_at, last.id],
      );
      const events = await pruneInChunks<{ event_id: string; received_at: number }, [number, string]>(
        [-1, ''],
        ([at, id], rows) => pruneEventsChunk.immediate(olderThan, at, id, rows),
        (last) => [last.received_at, last.event_id],
      );
      return { events, messages };
    },

    /** Every dead letter, re-queued a chunk at a time; calls `onChunk` after each committed one. */
    async replayAllDead(now: number, onChunk: (replayed: number) => void) {
      let replayed = 0;
      const chunks = sizer();
      for (let after = 0; !stopped(); await yieldToEventLoop()) {
        // Fsynced: an operator's replay, once reported done, must survive a power cut.
        const chunk = chunks.time((n) => replayDeadChunk.immediate(after, now, n));
        replayed += chunk.replayed;
        if (chunk.replayed > 0) onChunk(chunk.replayed);
        if (chunk.last === undefined) break;
        after = chunk.last;
      }
      return replayed;
    },
  };
}
