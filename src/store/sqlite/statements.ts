import type Database from 'better-sqlite3';
import { SUPERSEDED } from './long-jobs.js';
import { MESSAGE_ROWS, messageBodyOf } from '../shared/views.js';
import { SQLITE_MIGRATIONS } from './schema.js';

/** The SQLite store's schema migrations and prepared statements, prepared once per connection. */
export type Statements = ReturnType<typeof prepareStatements>;

export interface ClaimRow {
  id: number;
  event_id: string;
  kind: string;
  body: string;
  attempts: number;
  accepted_at: number;
  trace_parent: string | null;
}

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < SQLITE_MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

export function prepareStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      `INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, trace_parent, customer_id, route)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    insertMessage: db.prepare(
      `INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at, dead_reason, profile_key, source_created_at, route)
       VALUES (@event_id, @kind, '', @state, @next_attempt_at, @accepted_at, @dead_reason, @profile_key, @source_created_at, @route)`,
    ),
    insertBody: db.prepare('INSERT INTO message_bodies (message_id, body) VALUES (?, ?)'),
    watermark: db.prepare('SELECT newest_created_at FROM profile_watermarks WHERE profile_key = ?'),
    upsertWatermark: db.prepare(
      `INSERT INTO profile_watermarks (profile_key, newest_created_at) VALUES (?, ?)
       ON CONFLICT (profile_key) DO UPDATE SET newest_created_at = max(newest_created_at, excluded.newest_created_at)`,
    ),
    claim: db.prepare(
      `UPDATE messages SET state = 'in_flight', next_attempt_at = ?, lease_owner = ?
       WHERE id IN (SELECT id FROM messages WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, event_id, kind, ${messageBodyOf('messages')} AS body, attempts, accepted_at,
                 (SELECT trace_parent FROM events e WHERE e.event_id = messages.event_id) AS trace_parent`,
    ),
    claimRoute: db.prepare(
      `UPDATE messages SET state = 'in_flight', next_attempt_at = ?, lease_owner = ?
       WHERE id IN (SELECT id FROM messages WHERE route = ? AND state IN ('pending', 'in_flight') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, event_id, kind, ${messageBodyOf('messages')} AS body, attempts, accepted_at,
                 (SELECT trace_parent FROM events e WHERE e.event_id = messages.event_id) AS trace_parent`,
    ),
    nextDueRoute: db.prepare(`SELECT min(next_attempt_at) AS at FROM messages WHERE route = ? AND state IN ('pending', 'in_flight')`),
    deadLettersRoute: db.prepare(`SELECT ${MESSAGE_ROWS} WHERE m.state = 'dead' AND m.route = ? AND m.id > ? ORDER BY m.id LIMIT ?`),
    eventsByStatusRoute: db.prepare(`SELECT * FROM events WHERE mapping_status = ? AND coalesce(route, 'default') = ? AND event_id > ? ORDER BY event_id LIMIT ?`),
    eventsAllRoute: db.prepare(`SELECT * FROM events WHERE coalesce(route, 'default') = ? AND event_id > ? ORDER BY event_id LIMIT ?`),
    eventRoute: db.prepare('SELECT route FROM events WHERE event_id = ?'),
    // The delivered attempt's details go on the row itself (migration 9): no attempts row for it.
    settleDelivered: db.prepare(
      `UPDATE messages SET state = 'delivered', attempts = attempts + 1, settled_at = ?, lease_owner = NULL, last_error = NULL,
         delivered_attempt_at = ?, delivered_duration_ms = ?, delivered_status = ?, delivered_batch_size = ?, delivered_xaction_id = ?
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    // A profile record whose retry comes after a newer record for the same member was queued would
    // overwrite newer state in AEP: it is skipped instead (the out-of-order guard, at retry time).
    settleRetry: db.prepare(
      `UPDATE messages SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_owner = NULL,
         state = CASE WHEN ${SUPERSEDED} THEN 'skipped' ELSE 'pending' END,
         dead_reason = CASE WHEN ${SUPERSEDED} THEN 'superseded_by_newer_profile' ELSE dead_reason END
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    release: db.prepare(
      `UPDATE messages SET state = 'pending', next_attempt_at = ?, lease_owner = NULL WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    settleDead: db.prepare(
      `UPDATE messages SET state = 'dead', attempts = attempts + 1, dead_reason = ?, last_error = ?, settled_at = ?, lease_owner = NULL
       WHERE id = ? AND lease_owner = ? AND state = 'in_flight'`,
    ),
    makeDueNow: db.prepare(
      `UPDATE messages SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?
         AND substr(last_error, 1, instr(last_error, ':') - 1) IN (SELECT value FROM json_each(?))`,
    ),
    nextDue: db.prepare(`SELECT min(next_attempt_at) AS at FROM messages WHERE state IN ('pending', 'in_flight')`),
    getEvent: db.prepare('SELECT * FROM events WHERE event_id = ?'),
    eventMessages: db.prepare(`SELECT ${MESSAGE_ROWS} WHERE m.event_id = ? ORDER BY m.id`),
    deadLetters: db.prepare(`SELECT ${MESSAGE_ROWS} WHERE m.state = 'dead' AND m.id > ? ORDER BY m.id LIMIT ?`),
    skipSupersededDead: db.prepare(
      `UPDATE messages SET state = 'skipped', dead_reason = 'superseded_by_newer_profile', settled_at = ? WHERE state = 'dead' AND id = ? AND ${SUPERSEDED}`,
    ),
    replayDead: db.prepare(
      `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = ?, dead_reason = NULL, settled_at = NULL WHERE state = 'dead' AND id = ?`,
    ),
    eventsByStatus: db.prepare('SELECT * FROM events WHERE mapping_status = ? AND event_id > ? ORDER BY event_id LIMIT ?'),
    eventsAll: db.prepare('SELECT * FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?'),
    countInFlight: db.prepare(`SELECT count(*) AS n FROM messages WHERE event_id = ? AND state = 'in_flight' AND next_attempt_at > ?`),
    deleteUndelivered: db.prepare(`DELETE FROM messages WHERE event_id = ? AND state IN ('pending', 'in_flight', 'dead', 'skipped')`),
    setMappingStatus: db.prepare('UPDATE events SET mapping_status = ? WHERE event_id = ?'),
    pendingStats: db.prepare(
      `SELECT count(*) AS n, min(accepted_at) AS oldest FROM messages WHERE state IN ('pending', 'in_flight')`,
    ),
    probe: db.prepare('INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at'),
    deadCount: db.prepare(`SELECT count(*) AS n FROM messages WHERE state = 'dead'`),
  };
}
