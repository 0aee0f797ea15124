import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ChunkSizer } from '../../../src/store/sqlite/chunk-sizer.js';
import { SQLITE_MIGRATIONS } from '../../../src/store/sqlite/schema.js';
import { createSqliteLongJobs, PRUNE_REST_FACTOR } from '../../../src/store/sqlite/long-jobs.js';

const DAY = 86_400_000;

/** An in-memory store schema with `n` delivered messages (and their events) a month old. */
function storeWithHistory(n: number): Database.Database {
  const db = new Database(':memory:');
  for (const migration of SQLITE_MIGRATIONS) db.exec(migration);
  const old = Date.now() - 30 * DAY;
  const event = db.prepare(`INSERT INTO events (event_id, event_name, envelope, created_at, received_at, mapping_status, payload) VALUES (?, 'pointsIssued', 'flat', NULL, ?, 'mapped', '{}')`);
  const message = db.prepare(`INSERT INTO messages (event_id, kind, body, state, next_attempt_at, accepted_at) VALUES (?, 'event', '{}', 'delivered', ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) {
      event.run(`e-${i}`, old + i);
      message.run(`e-${i}`, old + i, old + i);
    }
  })();
  return db;
}

/** Chunks of `rows`, each reported as having taken `ms`. */
const fixedSizer = (rows: number, ms: number) => (): ChunkSizer => ({
  rows,
  lastMs: ms,
  time: (chunk) => chunk(rows),
});

describe('SQLite prune in chunks', () => {
  it('rests between chunks for PRUNE_REST_FACTOR times as long as the last chunk took, capped at 100 ms', async () => {
    const db = storeWithHistory(250);
    const rests: number[] = [];
    const jobs = createSqliteLongJobs(db, () => false, {
      chunkSizer: fixedSizer(100, 8),
      rest: async (ms) => {
        rests.push(ms);
      },
    });
    expect(await jobs.prune(Date.now() - 8 * DAY)).toEqual({ events: 250, messages: 250 });
    // 100 + 100 + 50 messages, then 100 + 100 + 50 events: a rest after each full chunk.
    expect(rests).toEqual([8 * PRUNE_REST_FACTOR, 8 * PRUNE_REST_FACTOR, 8 * PRUNE_REST_FACTOR, 8 * PRUNE_REST_FACTOR]);

    const slow = createSqliteLongJobs(storeWithHistory(150), () => false, {
      chunkSizer: fixedSizer(100, 500),
      rest: async (ms) => {
        rests.push(ms);
      },
    });
    rests.length = 0;
    await slow.prune(Date.now() - 8 * DAY);
    expect(rests).toEqual([100, 100]);
  });
});
