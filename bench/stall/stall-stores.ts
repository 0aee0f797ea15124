/**
 * Store files for the stall phase (bench/stall/phase-stall.ts), written straight into SQLite with the
 * relay's own migrations (as bench/stall/replay-stall.ts does), so the relay opens them as its own: one
 * transaction, prepared statements, no journal (a half-written file is thrown away anyway).
 */
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { bodyOf, type SampleTemplate } from '../load/samples.js';

function migrated(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MB: index inserts stay in memory
  for (const [i, migration] of SQLITE_MIGRATIONS.entries()) {
    db.exec(migration);
    db.pragma(`user_version = ${i + 1}`);
  }
  return db;
}

function finish(db: Database.Database): void {
  db.exec('ANALYZE');
  db.pragma('journal_mode = WAL');
  db.close();
}

const eventNameOf = (payload: string) => /"eventName":"([^"]*)"/.exec(payload)?.[1] ?? '';

/** `n` unmapped events whose payloads today's mapper maps: what a replay after a mapping change finds. */
export function prefillReplayStore(path: string, n: number, samples: SampleTemplate[], now: number): void {
  const db = migrated(path);
  const insert = db.prepare(`INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload) VALUES (?, ?, 'flat', NULL, ?, 'unmapped', ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) {
      const id = `replay-${String(i).padStart(8, '0')}`;
      const payload = bodyOf(samples, i, id);
      insert.run(id, eventNameOf(payload), now - (n - i), payload);
    }
  })();
  finish(db);
}

/**
 * `n` events delivered long ago, each with its delivered message (a body of the size a mapped
 * sample has) and one delivery attempt: history past any retention, all of it prunable.
 */
export function prefillPruneStore(path: string, n: number, samples: SampleTemplate[], oldestAt: number): void {
  const db = migrated(path);
  const event = db.prepare(`INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, route) VALUES (?, ?, 'flat', ?, ?, 'mapped', ?, 'default')`);
  const message = db.prepare(
    `INSERT INTO messages (id, event_id, kind, body, state, attempts, next_attempt_at, accepted_at, settled_at, route) VALUES (?, ?, 'event', ?, 'delivered', 1, ?, ?, ?, 'default')`,
  );
  const attempt = db.prepare(`INSERT INTO delivery_attempts (message_id, event_id, at, duration_ms, status, batch_size, outcome, xaction_id) VALUES (?, ?, ?, 40, 200, 500, 'delivered', ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) {
      const id = `old-${String(i).padStart(8, '0')}`;
      const at = oldestAt + i; // a millisecond apart, oldest first
      const payload = bodyOf(samples, i, id);
      const body = `{"header":{"datasetId":"bench-event-dataset"},"body":{"xdmMeta":{"schemaRef":{"id":"https://ns.adobe.com/bench/schemas/experience-event"}},"xdmEntity":{"_id":"${id}","source":${payload}}}}`;
      event.run(id, eventNameOf(payload), at, at, payload);
      message.run(i + 1, id, body, at, at, at + 150);
      attempt.run(i + 1, id, at + 100, `x-${i}`);
    }
  })();
  finish(db);
}
