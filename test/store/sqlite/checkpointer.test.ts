import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startCheckpointer, WAL_LIMIT_BYTES, type CheckpointRun } from '../../../src/store/sqlite/checkpointer.js';
import { waitFor } from '../../helpers/wait-for.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WAL checkpoints on their own thread', () => {
  it('checkpoints what the main connection commits, without the main connection doing it', async () => {
    const path = join(dir, 'wal.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0'); // only the thread checkpoints here
    db.exec('CREATE TABLE t (v TEXT)');
    const failures: string[] = [];
    const checkpointer = startCheckpointer(path, { intervalMs: 20, walLimitBytes: WAL_LIMIT_BYTES }, (detail) => failures.push(detail));
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i += 1) insert.run('x'.repeat(200));
    })();
    const before = checkpointer.runs;
    await waitFor(() => checkpointer.runs >= before + 2, { what: 'two checkpoints after the writes' });
    // The thread copied every frame into the database file, so the next commit starts the WAL over:
    // it holds only that commit's few frames, not the hundreds the big transaction wrote.
    insert.run('after');
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    expect(result!.log).toBeGreaterThan(0);
    expect(result!.log).toBeLessThan(10);
    expect(failures).toEqual([]);
    await checkpointer.stop();
    await checkpointer.stop(); // twice is harmless
    db.close();
  });

  describe('a WAL past its bound', () => {
    const LIMIT = 64 * 1024;
    /** A database whose WAL holds about `walBytes` the thread has not checkpointed yet. */
    const walOf = (name: string, walBytes: number) => {
      const path = join(dir, `${name}.db`);
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE t (v TEXT)');
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < walBytes / 1000; i += 1) insert.run('x'.repeat(900));
      })();
      return { db, walSize: () => statSync(`${path}-wal`).size, path };
    };

    it('with room to spare, is checkpointed PASSIVE (no commit blocked) and keeps its file until it starts over', async () => {
      const { db, walSize, path } = walOf('roomy', 2 * LIMIT);
      const checkpointer = startCheckpointer(path, { intervalMs: 1000, walLimitBytes: LIMIT, lowRoomBytes: 0 }, () => undefined);
      await waitFor(() => checkpointer.runs >= 3, { what: 'three guard checkpoints' });
      // TRUNCATE would have cut it to zero; PASSIVE copied its frames and left the file.
      expect(walSize()).toBeGreaterThan(LIMIT);
      await checkpointer.stop();
      db.close();
    });

    it('past four times its bound, is cut back to zero (a steady writer never lets it start over)', async () => {
      const { db, walSize, path } = walOf('big', 6 * LIMIT);
      const checkpointer = startCheckpointer(path, { intervalMs: 1000, walLimitBytes: LIMIT, lowRoomBytes: 0 }, () => undefined);
      await waitFor(() => walSize() === 0, { what: 'the WAL truncated' });
      await checkpointer.stop();
      db.close();
    });

    it('with a reader on the WAL, gives the TRUNCATE up at once instead of holding commits behind the reader, and cuts it once the reader is gone', async () => {
      const { db, walSize, path } = walOf('read', 6 * LIMIT);
      // A read transaction left open (an operator's long query, a backup): the WAL cannot start over under it.
      const reader = new Database(path, { readonly: true });
      reader.prepare('BEGIN').run();
      reader.prepare('SELECT count(*) FROM t').get();
      const runs: CheckpointRun[] = [];
      const checkpointer = startCheckpointer(path, { intervalMs: 1000, walLimitBytes: LIMIT, lowRoomBytes: 0 }, () => undefined, (run) => runs.push(run));
      await waitFor(() => runs.some((r) => r.mode === 'TRUNCATE'), { what: 'a TRUNCATE tried' });
      const tried = runs.find((r) => r.mode === 'TRUNCATE')!;
      // It held the write lock only for its patience (20 ms), not this connection's busy timeout (1 s)
      // it used to wait out, every webhook commit waiting behind it.
      expect(tried.busy).toBe(1);
      expect(tried.ms).toBeLessThan(500);
      db.prepare('INSERT INTO t (v) VALUES (?)').run('a commit meanwhile');
      reader.prepare('COMMIT').run();
      reader.close();
      await waitFor(() => walSize() === 0, { what: 'the WAL truncated once the reader left' });
      await checkpointer.stop();
      db.close();
    });

    it('when room runs low, is cut back to zero at once', async () => {
      const { db, walSize, path } = walOf('tight', 2 * LIMIT);
      const checkpointer = startCheckpointer(path, { intervalMs: 1000, walLimitBytes: LIMIT, lowRoomBytes: Number.MAX_SAFE_INTEGER }, () => undefined);
      await waitFor(() => walSize() === 0, { what: 'the WAL truncated' });
      await checkpointer.stop();
      db.close();
    });
  });
});
