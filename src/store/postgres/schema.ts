import type { Logger } from 'pino';
import type { ClientBase } from 'pg';

/**
 * Versioned PostgreSQL migrations, applied in order at start-up; `schema_migrations` records each
 * one applied. Append new migrations; never edit one that has shipped. Column names match the
 * SQLite schema (src/store/shared/views.ts maps rows of both backends).
 *
 * Times are epoch-ms BIGINTs supplied by the relay (never the database clock), as in SQLite.
 * Text keys that are paged or compared use COLLATE "C": byte order, the same as SQLite's, whatever
 * locale the cluster was created with.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     event_id       TEXT COLLATE "C" PRIMARY KEY,
     event_name     TEXT NOT NULL,
     envelope       TEXT NOT NULL,
     created_at     BIGINT,
     received_at    BIGINT NOT NULL,
     mapping_status TEXT NOT NULL,
     payload        TEXT NOT NULL
   );
   CREATE INDEX events_received_at ON events (received_at);
   CREATE INDEX events_unmapped ON events (event_id) WHERE mapping_status = 'unmapped';

   CREATE TABLE messages (
     id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     event_id          TEXT COLLATE "C" NOT NULL,
     kind              TEXT NOT NULL,
     body              TEXT NOT NULL,
     state             TEXT NOT NULL,
     attempts          INTEGER NOT NULL DEFAULT 0,
     next_attempt_at   BIGINT NOT NULL,
     lease_owner       TEXT,
     last_error        TEXT,
     dead_reason       TEXT,
     accepted_at       BIGINT NOT NULL,
     settled_at        BIGINT,
     profile_key       TEXT COLLATE "C",
     source_created_at BIGINT
   );
   CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE state IN ('pending', 'in_flight');
   CREATE INDEX messages_event ON messages (event_id);
   CREATE INDEX messages_dead ON messages (id) WHERE state = 'dead';

   CREATE TABLE profile_watermarks (
     profile_key       TEXT COLLATE "C" PRIMARY KEY,
     newest_created_at BIGINT NOT NULL
   );`,
  // 2: the intake span's W3C traceparent, so a delivery (however much later) links to it (issue 15).
  `ALTER TABLE events ADD COLUMN trace_parent TEXT;`,
  // 3: the operator console (issue 14): events searchable by customer (and route, issue 13), newest
  // first; every delivery attempt kept per message (the newest ATTEMPTS_KEPT_PER_MESSAGE).
  `ALTER TABLE events ADD COLUMN customer_id TEXT COLLATE "C";
   ALTER TABLE events ADD COLUMN route TEXT COLLATE "C";
   CREATE INDEX events_customer ON events (customer_id, received_at) WHERE customer_id IS NOT NULL;
   CREATE INDEX events_route ON events (route, received_at) WHERE route IS NOT NULL;
   CREATE INDEX events_name_received ON events (event_name, received_at, event_id);
   CREATE INDEX events_received_id ON events (received_at, event_id);
   CREATE INDEX messages_dead_reason ON messages (dead_reason, settled_at) WHERE state = 'dead';
   CREATE TABLE delivery_attempts (
     id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     message_id  BIGINT NOT NULL,
     event_id    TEXT COLLATE "C" NOT NULL,
     at          BIGINT NOT NULL,
     duration_ms INTEGER NOT NULL,
     status      INTEGER,
     batch_size  INTEGER NOT NULL,
     outcome     TEXT NOT NULL,
     xaction_id  TEXT,
     error       TEXT
   );
   CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id, id);
   CREATE INDEX delivery_attempts_event ON delivery_attempts (event_id);
   CREATE INDEX delivery_attempts_delivered_at ON delivery_attempts (at) WHERE outcome = 'delivered';`,
  // 4: a group commit in one round trip (issue 12). The same statements, in the same order, as one
  // event at a time from the client (dedup by ON CONFLICT, the watermark upsert's row lock and
  // answer), run server-side. Messages arrive flattened, in order, tagged with their event's index.
  `CREATE FUNCTION relay_accept_events(
     ev_ids TEXT[], ev_names TEXT[], ev_envelopes TEXT[], ev_created BIGINT[], ev_received BIGINT[],
     ev_statuses TEXT[], ev_payloads TEXT[], ev_traces TEXT[], ev_customers TEXT[],
     msg_events INTEGER[], msg_kinds TEXT[], msg_bodies TEXT[], msg_profile_keys TEXT[], msg_source_created BIGINT[],
     notify_channel TEXT, notify_payload TEXT)
   RETURNS TABLE (out_accepted BOOLEAN, out_skipped INTEGER) LANGUAGE plpgsql AS $fn$
   DECLARE
     i INTEGER;
     j INTEGER := 1;
     n INTEGER;
     newest BIGINT;
     msg_state TEXT;
     msg_count INTEGER := coalesce(array_length(msg_events, 1), 0);
     any_accepted BOOLEAN := false;
   BEGIN
     FOR i IN 1 .. coalesce(array_length(ev_ids, 1), 0) LOOP
       INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, trace_parent, customer_id)
       VALUES (ev_ids[i], ev_names[i], ev_envelopes[i], ev_created[i], ev_received[i], ev_statuses[i], ev_payloads[i], ev_traces[i], ev_customers[i])
       ON CONFLICT (event_id) DO NOTHING;
       GET DIAGNOSTICS n = ROW_COUNT;
       out_accepted := n > 0;
       out_skipped := 0;
       WHILE j <= msg_count AND msg_events[j] = i LOOP
         IF out_accepted THEN
           msg_state := 'pending';
           IF msg_kinds[j] = 'profile' AND msg_profile_keys[j] IS NOT NULL AND msg_source_created[j] IS NOT NULL THEN
             INSERT INTO profile_watermarks AS w (profile_key, newest_created_at) VALUES (msg_profile_keys[j], msg_source_created[j])
             ON CONFLICT (profile_key) DO UPDATE SET newest_created_at = GREATEST(w.newest_created_at, EXCLUDED.newest_created_at)
             RETURNING w.newest_created_at INTO newest;
             IF newest > msg_source_created[j] THEN
               msg_state := 'skipped';
               out_skipped := out_skipped + 1;
             END IF;
           END IF;
           INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at, dead_reason, profile_key, source_created_at)
           VALUES (ev_ids[i], msg_kinds[j], msg_bodies[j], msg_state, ev_received[i], ev_received[i],
                   CASE WHEN msg_state = 'skipped' THEN 'superseded_by_newer_profile' END, msg_profile_keys[j], msg_source_created[j]);
         END IF;
         j := j + 1;
       END LOOP;
       any_accepted := any_accepted OR out_accepted;
       RETURN NEXT;
     END LOOP;
     IF any_accepted AND notify_channel IS NOT NULL THEN
       PERFORM pg_notify(notify_channel, notify_payload);
     END IF;
   END
   $fn$;`,
  // 5: routes (issue 13): each message carries its event's route, and each route's delivery claims
  // only its own, from its own index, so one route's backlog is never in another's way. The group
  // commit function takes each event's route (NULL: the environment's route, as before).
  `ALTER TABLE messages ADD COLUMN route TEXT COLLATE "C" NOT NULL DEFAULT 'default';
   CREATE INDEX messages_route_due ON messages (route, next_attempt_at, id) WHERE state IN ('pending', 'in_flight');
   CREATE INDEX events_held ON events (event_id) WHERE mapping_status = 'held';
   DROP FUNCTION relay_accept_events(TEXT[], TEXT[], TEXT[], BIGINT[], BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[], BIGINT[], TEXT, TEXT);
   CREATE FUNCTION relay_accept_events(
     ev_ids TEXT[], ev_names TEXT[], ev_envelopes TEXT[], ev_created BIGINT[], ev_received BIGINT[],
     ev_statuses TEXT[], ev_payloads TEXT[], ev_traces TEXT[], ev_customers TEXT[],
     msg_events INTEGER[], msg_kinds TEXT[], msg_bodies TEXT[], msg_profile_keys TEXT[], msg_source_created BIGINT[],
     notify_channel TEXT, notify_payload TEXT, ev_routes TEXT[])
   RETURNS TABLE (out_accepted BOOLEAN, out_skipped INTEGER) LANGUAGE plpgsql AS $fn$
   DECLARE
     i INTEGER;
     j INTEGER := 1;
     n INTEGER;
     newest BIGINT;
     msg_state TEXT;
     msg_count INTEGER := coalesce(array_length(msg_events, 1), 0);
     any_accepted BOOLEAN := false;
   BEGIN
     FOR i IN 1 .. coalesce(array_length(ev_ids, 1), 0) LOOP
       INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, trace_parent, customer_id, route)
       VALUES (ev_ids[i], ev_names[i], ev_envelopes[i], ev_created[i], ev_received[i], ev_statuses[i], ev_payloads[i], ev_traces[i], ev_customers[i], ev_routes[i])
       ON CONFLICT (event_id) DO NOTHING;
       GET DIAGNOSTICS n = ROW_COUNT;
       out_accepted := n > 0;
       out_skipped := 0;
       WHILE j <= msg_count AND msg_events[j] = i LOOP
         IF out_accepted THEN
           msg_state := 'pending';
           IF msg_kinds[j] = 'profile' AND msg_profile_keys[j] IS NOT NULL AND msg_source_created[j] IS NOT NULL THEN
             INSERT INTO profile_watermarks AS w (profile_key, newest_created_at) VALUES (msg_profile_keys[j], msg_source_created[j])
             ON CONFLICT (profile_key) DO UPDATE SET newest_created_at = GREATEST(w.newest_created_at, EXCLUDED.newest_created_at)
             RETURNING w.newest_created_at INTO newest;
             IF newest > msg_source_created[j] THEN
               msg_state := 'skipped';
               out_skipped := out_skipped + 1;
             END IF;
           END IF;
           INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at, dead_reason, profile_key, source_created_at, route)
           VALUES (ev_ids[i], msg_kinds[j], msg_bodies[j], msg_state, ev_received[i], ev_received[i],
                   CASE WHEN msg_state = 'skipped' THEN 'superseded_by_newer_profile' END, msg_profile_keys[j], msg_source_created[j], coalesce(ev_routes[i], 'default'));
         END IF;
         j := j + 1;
       END LOOP;
       any_accepted := any_accepted OR out_accepted;
       RETURN NEXT;
     END LOOP;
     IF any_accepted AND notify_channel IS NOT NULL THEN
       PERFORM pg_notify(notify_channel, notify_payload);
     END IF;
   END
   $fn$;`,
  // 6: the console's state filters (issue 14) at a million events (bench:console): the events with a
  // dead letter, read from an index alone, and "no message still pending" answered from an index of
  // the few pending ones rather than by reading each event's messages.
  `CREATE INDEX messages_dead_event ON messages (event_id) WHERE state = 'dead';
   CREATE INDEX messages_pending_event ON messages (event_id) WHERE state IN ('pending', 'in_flight');`,
  // 7: prune walks delivered history oldest first, a chunk at a time (issue 12): without this index
  // each chunk scanned the whole messages table. (Events walk events_received_id.)
  `CREATE INDEX messages_prunable ON messages (accepted_at, id) WHERE state IN ('delivered', 'skipped');`,
  // 8: accounting (issue 17): the relay's counts per route and hour read from covering indexes alone
  // (events by acceptance time, messages by Adobe's acknowledgement), and the job's own state: judged
  // windows, and its runs, so a job killed mid-run resumes where it stopped.
  `CREATE INDEX events_accounting ON events ((coalesce(route, 'default')), received_at, mapping_status);
   CREATE INDEX messages_settled ON messages (route, settled_at, kind, state, dead_reason) WHERE state IN ('delivered', 'dead');
   CREATE TABLE accounting_windows (
     route        TEXT COLLATE "C" NOT NULL,
     window_start BIGINT NOT NULL,
     window_end   BIGINT NOT NULL,
     judged_at    BIGINT NOT NULL,
     run_id       TEXT NOT NULL,
     report       TEXT NOT NULL,
     PRIMARY KEY (route, window_start)
   );
   CREATE TABLE accounting_runs (
     run_id      TEXT PRIMARY KEY,
     started_at  BIGINT NOT NULL,
     params      TEXT NOT NULL,
     finished_at BIGINT
   );`,
  // 9: performance round three (issue 21): events_received_at (received_at) is a prefix of
  // events_received_id (received_at, event_id), which serves every query it served: one index entry
  // less per webhook. An older relay on this schema (a rolling deploy) only loses an index it did not need.
  `DROP INDEX IF EXISTS events_received_at;`,
  // 10: performance round three (issue 21), as SQLite's migration 9: a delivery that succeeds is
  // recorded on its message row, in the settlement's one statement, not as a delivery_attempts row
  // with three index entries and a trim. Failed attempts keep their rows; the console reads both.
  `ALTER TABLE messages ADD COLUMN delivered_attempt_at BIGINT,
     ADD COLUMN delivered_duration_ms INTEGER,
     ADD COLUMN delivered_status INTEGER,
     ADD COLUMN delivered_batch_size INTEGER,
     ADD COLUMN delivered_xaction_id TEXT;
   CREATE INDEX messages_delivered_attempt_at ON messages (delivered_attempt_at) WHERE delivered_attempt_at IS NOT NULL;`,
  // 11: the table SQLite's migration 10 moved message bodies into (issue 21), so both engines read
  // bodies the same way (src/store/shared/views.ts messageBodyOf). PostgreSQL writes bodies into
  // messages.body, where replicas of the version before read them during a rolling deploy; moving
  // its writes too was measured in the version after and not made: PostgreSQL lost 13-18% of its
  // webhooks/s (a second insert per message, a second table read at every claim). The table stays
  // empty here; its lookup costs an empty probe.
  // A body goes with its message through a statement-level trigger, not a foreign key: a foreign key
  // would add a check to every claim's and settlement's UPDATE of messages; this runs once per DELETE.
  `CREATE TABLE message_bodies (
     message_id BIGINT PRIMARY KEY,
     body       TEXT NOT NULL
   );
   CREATE FUNCTION relay_drop_message_bodies() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     DELETE FROM message_bodies b USING gone WHERE b.message_id = gone.id;
     RETURN NULL;
   END $$;
   CREATE TRIGGER message_bodies_follow AFTER DELETE ON messages
     REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION relay_drop_message_bodies();`,
  // 12: as SQLite's migration 11 (issue 21): the name filter reads events_received_id, which now
  // carries the name, and events_name_received, one page dirtied per event name per commit, goes.
  // A replica of the previous version finds the same index name with one more column.
  `DROP INDEX events_received_id;
   CREATE INDEX events_received_id ON events (received_at, event_id, event_name);
   DROP INDEX events_name_received;`,
];

/**
 * Key of the session-level advisory lock that serializes migrations across replicas. Arbitrary but
 * fixed: every version of the relay must use the same one.
 */
export const MIGRATION_LOCK_KEY = '7262117001';
/** Key of the advisory lock the accounting job holds for a run (issue 17): one replica at a time. */
export const ACCOUNTING_LOCK_KEY = '7262117003';

/**
 * Applies the pending migrations. Several replicas may start at once: each takes the same advisory
 * lock first, so one migrates while the others wait, then find nothing left to do. Each migration
 * commits in its own transaction together with its `schema_migrations` row, so a failed one leaves
 * the earlier ones applied and is retried whole at the next start. The lock is released explicitly,
 * and by PostgreSQL itself if the connection drops.
 */
export async function migratePostgres(client: ClientBase, logger: Logger): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    INTEGER PRIMARY KEY,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_MIGRATIONS.length) {
      // A newer relay migrated this database (rolling deploy or rollback): migrations only add (or
      // drop an index this version does not need), so this version keeps working; say so once.
      logger.warn({ schemaVersion: current, known: POSTGRES_MIGRATIONS.length }, 'database schema is newer than this relay');
    }
    for (let version = current; version < POSTGRES_MIGRATIONS.length; version += 1) {
      await client.query('BEGIN');
      try {
        await client.query(POSTGRES_MIGRATIONS[version]!);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version + 1]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      logger.info({ schemaVersion: version + 1 }, 'applied database migration');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}
