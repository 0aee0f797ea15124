/**
 * Versioned SQLite migrations, applied in order at start-up; `PRAGMA user_version` records the
 * last one applied. Append new migrations; never edit one that has shipped.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     event_id       TEXT PRIMARY KEY,
     event_name     TEXT NOT NULL,
     envelope       TEXT NOT NULL,
     created_at     INTEGER,
     received_at    INTEGER NOT NULL,
     mapping_status TEXT NOT NULL,
     payload        TEXT NOT NULL
   );
   CREATE INDEX events_received_at ON events (received_at);
   CREATE INDEX events_unmapped ON events (event_id) WHERE mapping_status = 'unmapped';

   CREATE TABLE messages (
     id                INTEGER PRIMARY KEY,
     event_id          TEXT NOT NULL,
     kind              TEXT NOT NULL,
     body              TEXT NOT NULL,
     state             TEXT NOT NULL,
     attempts          INTEGER NOT NULL DEFAULT 0,
     next_attempt_at   INTEGER NOT NULL,
     lease_owner       TEXT,
     last_error        TEXT,
     dead_reason       TEXT,
     accepted_at       INTEGER NOT NULL,
     settled_at        INTEGER,
     profile_key       TEXT,
     source_created_at INTEGER
   );
   CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE state IN ('pending', 'in_flight');
   CREATE INDEX messages_event ON messages (event_id);
   CREATE INDEX messages_dead ON messages (id) WHERE state = 'dead';

   CREATE TABLE profile_watermarks (
     profile_key       TEXT PRIMARY KEY,
     newest_created_at INTEGER NOT NULL
   );`,
  // 2: the intake span's W3C traceparent, so a delivery (however much later) links to it (issue 15).
  `ALTER TABLE events ADD COLUMN trace_parent TEXT;`,
  // 3: the operator console (issue 14): events searchable by customer (and route, issue 13), newest
  // first; every delivery attempt kept per message (the newest ATTEMPTS_KEPT_PER_MESSAGE).
  `ALTER TABLE events ADD COLUMN customer_id TEXT;
   ALTER TABLE events ADD COLUMN route TEXT;
   CREATE INDEX events_customer ON events (customer_id, received_at) WHERE customer_id IS NOT NULL;
   CREATE INDEX events_route ON events (route, received_at) WHERE route IS NOT NULL;
   CREATE INDEX events_name_received ON events (event_name, received_at, event_id);
   CREATE INDEX events_received_id ON events (received_at, event_id);
   CREATE INDEX messages_dead_reason ON messages (dead_reason, settled_at) WHERE state = 'dead';
   CREATE TABLE delivery_attempts (
     id          INTEGER PRIMARY KEY,
     message_id  INTEGER NOT NULL,
     event_id    TEXT NOT NULL,
     at          INTEGER NOT NULL,
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
  // 4: routes (issue 13): each message carries its event's route, and each route's delivery claims
  // only its own, from its own index, so one route's backlog is never in another's way.
  `ALTER TABLE messages ADD COLUMN route TEXT NOT NULL DEFAULT 'default';
   CREATE INDEX messages_route_due ON messages (route, next_attempt_at, id) WHERE state IN ('pending', 'in_flight');
   CREATE INDEX events_held ON events (event_id) WHERE mapping_status = 'held';`,
  // 5: the console's state filters (issue 14) at a million events (bench:console): the events with a
  // dead letter, read from an index alone, and "no message still pending" answered from an index of
  // the few pending ones rather than by reading each event's messages.
  `CREATE INDEX messages_dead_event ON messages (event_id) WHERE state = 'dead';
   CREATE INDEX messages_pending_event ON messages (event_id) WHERE state IN ('pending', 'in_flight');`,
  // 6: prune walks delivered history oldest first, a chunk at a time (issue 12): without this index
  // each chunk scanned the whole messages table. (Events walk events_received_id.)
  `CREATE INDEX messages_prunable ON messages (accepted_at, id) WHERE state IN ('delivered', 'skipped');`,
  // 7: accounting (issue 17): the relay's counts per route and hour read from covering indexes alone
  // (events by acceptance time, messages by Adobe's acknowledgement), and the job's own state: judged
  // windows, and its runs, so a job killed mid-run resumes where it stopped.
  `CREATE INDEX events_accounting ON events (coalesce(route, 'default'), received_at, mapping_status);
   CREATE INDEX messages_settled ON messages (route, settled_at, kind, state, dead_reason) WHERE state IN ('delivered', 'dead');
   CREATE TABLE accounting_windows (
     route        TEXT NOT NULL,
     window_start INTEGER NOT NULL,
     window_end   INTEGER NOT NULL,
     judged_at    INTEGER NOT NULL,
     run_id       TEXT NOT NULL,
     report       TEXT NOT NULL,
     PRIMARY KEY (route, window_start)
   );
   CREATE TABLE accounting_runs (
     run_id      TEXT PRIMARY KEY,
     started_at  INTEGER NOT NULL,
     params      TEXT NOT NULL,
     finished_at INTEGER
   );`,
  // 8: performance round three (issue 21): events_received_at (received_at) is a prefix of
  // events_received_id (received_at, event_id), which serves every query it served, so it was one
  // more B-tree entry, and one more page rewritten per commit, for nothing. Measured with
  // bench/store/store-cycle.ts; see BENCHMARKS.md.
  `DROP INDEX IF EXISTS events_received_at;`,
  // 9: performance round three (issue 21): a delivery that succeeds is recorded on its message row,
  // not as a delivery_attempts row: that row, its three index entries and the history trim made up
  // two thirds of a settlement's cost (bench/store/store-cycle.ts). Attempts that fail keep their rows
  // (the console's history); the console reads the delivered attempt from here, and older databases'
  // delivered rows as before. The index serves the console's delivered-per-minute chart.
  `ALTER TABLE messages ADD COLUMN delivered_attempt_at INTEGER;
   ALTER TABLE messages ADD COLUMN delivered_duration_ms INTEGER;
   ALTER TABLE messages ADD COLUMN delivered_status INTEGER;
   ALTER TABLE messages ADD COLUMN delivered_batch_size INTEGER;
   ALTER TABLE messages ADD COLUMN delivered_xaction_id TEXT;
   CREATE INDEX messages_delivered_attempt_at ON messages (delivered_attempt_at) WHERE delivered_attempt_at IS NOT NULL;`,
  // 10: performance round three (issue 21): a message's body moves out of its row into
  // message_bodies, written once. A claim and a settlement rewrite the message's row; with the body
  // (a kilobyte and more of XDM) in it, each rewrote the body's pages too: three writes of every body
  // per delivery, two of them for nothing (bench/store/store-cycle.ts; BENCHMARKS.md). Rows written
  // before keep their body in messages.body; new rows store '' there. A body goes when its message goes.
  `CREATE TABLE message_bodies (
     message_id INTEGER PRIMARY KEY,
     body       TEXT NOT NULL
   );
   CREATE TRIGGER message_bodies_follow AFTER DELETE ON messages BEGIN
     DELETE FROM message_bodies WHERE message_id = old.id;
   END;`,
  // 11: performance round three (issue 21): the console's filter by event name reads
  // events_received_id, which now carries the name, instead of events_name_received: that index put
  // each webhook's entry at the end of its name's range, so a commit dirtied one page per event name
  // in it, 0.48 of the 2.39 WAL frames a webhook wrote (bench/store/store-cycle.ts, BENCHMARKS.md).
  // Newest first, a name is found within the newest events, and a name no event has is a walk of
  // this one index, never of the table (bench:console).
  `DROP INDEX events_received_id;
   CREATE INDEX events_received_id ON events (received_at, event_id, event_name);
   DROP INDEX events_name_received;`,
];
