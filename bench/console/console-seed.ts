/**
 * The stored history bench:console measures against (issue 14, item 5), the same rows in both stores:
 * a week of events from 50,000 customers, 0.5% dead letters across three reasons, the newest 2,000
 * still pending, one attempt per settled message. Each store is seeded through its own schema after
 * its own migrations: SQLite with multi-row inserts in one transaction, PostgreSQL server-side from
 * generate_series (a million rows never cross the wire).
 */
import Database from 'better-sqlite3';
import pg from 'pg';

export interface SeedShape {
  events: number;
  now: number;
}

export const SPAN_MS = 7 * 24 * 3_600_000; // a week of history
export const REASONS = ['invalid_xdm', 'too_large', 'expired'];
const NAMES = ['pointsIssued', 'transactionAdded', 'tierUpgraded', 'rewardIssued'];
const PENDING = 2_000;
const ROWS_PER_INSERT = 500;

export const eventIdOf = (i: number) => `evt-${i.toString().padStart(8, '0')}`;

/** SQLite: the store file must exist and be migrated (createSqliteStore(...).close()). */
export function seedSqlite(path: string, { events: total, now }: SeedShape): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insertMany = (table: string, columns: string[], rows: unknown[][]) => {
    const one = `(${columns.map(() => '?').join(',')})`;
    db.prepare(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${rows.map(() => one).join(',')}`).run(...rows.flat());
  };
  db.transaction(() => {
    for (let base = 0; base < total; base += ROWS_PER_INSERT) {
      const events: unknown[][] = [];
      const messages: unknown[][] = [];
      const attempts: unknown[][] = [];
      for (let i = base; i < Math.min(total, base + ROWS_PER_INSERT); i += 1) {
        const id = eventIdOf(i);
        const at = now - SPAN_MS + Math.floor((i / total) * SPAN_MS);
        const name = NAMES[i % 4]!;
        const customer = String(100_000 + (i % 50_000));
        const payload = JSON.stringify({ eventId: id, eventName: name, data: { customerIdentifiers: { customerId: Number(customer) } } });
        events.push([id, name, 'flat', at, at, 'mapped', payload, customer]);
        const dead = i % 200 === 7; // 0.5% dead letters
        const pending = i >= total - PENDING; // the newest are still queued
        const state = dead ? 'dead' : pending ? 'pending' : 'delivered';
        const body = JSON.stringify({ header: { datasetId: 'ds' }, body: { xdmEntity: { _id: id } } });
        messages.push([i + 1, id, 'event', body, state, pending ? 0 : 1, at, at, dead ? REASONS[i % 3]! : null, pending ? null : at + 150, dead ? '400: invalid' : null]);
        if (!pending) attempts.push([i + 1, id, at + 100, 40, dead ? 207 : 200, 50, dead ? 'dead' : 'delivered', dead ? null : `x-${i}`, dead ? '400: invalid' : null]);
      }
      insertMany('events', ['event_id', 'event_name', 'envelope', 'created_at', 'received_at', 'mapping_status', 'payload', 'customer_id'], events);
      insertMany('messages', ['id', 'event_id', 'kind', 'body', 'state', 'attempts', 'next_attempt_at', 'accepted_at', 'dead_reason', 'settled_at', 'last_error'], messages);
      if (attempts.length > 0) insertMany('delivery_attempts', ['message_id', 'event_id', 'at', 'duration_ms', 'status', 'batch_size', 'outcome', 'xaction_id', 'error'], attempts);
    }
  })();
  db.exec('ANALYZE');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/**
 * PostgreSQL: the database must be migrated (createPostgresStore(...).close()). The same rows as
 * seedSqlite, computed in SQL: `i` runs 0..N-1 as the loop above does. VACUUM ANALYZE afterwards, as
 * autovacuum would on a database that has lived with these rows (visibility map, statistics).
 */
export async function seedPostgres(connectionString: string, { events: total, now }: SeedShape): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    const series = `FROM generate_series(0, ${total - 1}) AS i,
      LATERAL (SELECT ${now - SPAN_MS}::bigint + floor((i::float8 / ${total}) * ${SPAN_MS})::bigint AS at,
                      'evt-' || lpad(i::text, 8, '0') AS id,
                      (ARRAY['${NAMES.join("','")}'])[i % 4 + 1] AS name,
                      i % 200 = 7 AS dead,
                      i >= ${total - PENDING} AS pending) AS r`;
    await client.query(`INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload, customer_id)
      SELECT id, name, 'flat', at, at, 'mapped',
             json_build_object('eventId', id, 'eventName', name, 'data', json_build_object('customerIdentifiers', json_build_object('customerId', 100000 + i % 50000)))::text,
             (100000 + i % 50000)::text
      ${series}`);
    await client.query(`INSERT INTO messages (id, event_id, kind, body, state, attempts, next_attempt_at, accepted_at, dead_reason, settled_at, last_error)
      OVERRIDING SYSTEM VALUE
      SELECT i + 1, id, 'event', json_build_object('header', json_build_object('datasetId', 'ds'), 'body', json_build_object('xdmEntity', json_build_object('_id', id)))::text,
             CASE WHEN dead THEN 'dead' WHEN pending THEN 'pending' ELSE 'delivered' END,
             CASE WHEN pending THEN 0 ELSE 1 END, at, at,
             CASE WHEN dead THEN (ARRAY['${REASONS.join("','")}'])[i % 3 + 1] END,
             CASE WHEN NOT pending THEN at + 150 END,
             CASE WHEN dead THEN '400: invalid' END
      ${series}`);
    await client.query(`SELECT setval(pg_get_serial_sequence('messages', 'id'), ${total})`);
    await client.query(`INSERT INTO delivery_attempts (message_id, event_id, at, duration_ms, status, batch_size, outcome, xaction_id, error)
      SELECT i + 1, id, at + 100, 40, CASE WHEN dead THEN 207 ELSE 200 END, 50,
             CASE WHEN dead THEN 'dead' ELSE 'delivered' END,
             CASE WHEN NOT dead THEN 'x-' || i END,
             CASE WHEN dead THEN '400: invalid' END
      ${series} WHERE NOT pending`);
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}
