import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../src/errors.js';
import { capDatabaseSize, roomUnderCap } from '../../../src/store/sqlite/size-cap.js';
import { createSqliteStore } from '../../../src/store/sqlite/store.js';
import { capillaryEvent, mapped, outbound } from '../store-contract.js';

/** STORE_MAX_SIZE_MB: the store fills up cleanly under its cap, and is still there after. */
const dir = mkdtempSync(join(tmpdir(), 'relay-size-cap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MB = 1024 * 1024;
/** A webhook body of a few KB, as Capillary's are: the cap fills in a few thousand commits. */
const PAYLOAD = JSON.stringify({ padding: 'x'.repeat(3000) });

describe('the SQLite size cap', () => {
  it('sets max_page_count from the page size, and never below the current size', () => {
    const db = new Database(join(dir, 'pragma.db'));
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    expect(capDatabaseSize(db, 4 * MB)).toBe((4 * MB) / pageSize);
    expect(db.pragma('max_page_count', { simple: true })).toBe((4 * MB) / pageSize);
    db.exec('CREATE TABLE t (x TEXT)');
    db.prepare('INSERT INTO t VALUES (?)').run('y'.repeat(5 * pageSize));
    const pages = db.pragma('page_count', { simple: true }) as number;
    expect(pages).toBeGreaterThan(2);
    expect(capDatabaseSize(db, pageSize)).toBe(pages);
    expect(roomUnderCap(db)).toBe(0);
    db.close();
  });

  it('refuses commits past the cap with the store-unavailable error, fails readiness, and takes them again under a larger cap', async () => {
    const path = join(dir, 'capped.db');
    const store = createSqliteStore({ path, synchronous: 'normal', maxSizeBytes: 4 * MB, checkpointIntervalMs: 0 });
    const accepted: string[] = [];
    let refusal: unknown;
    let readyFailure: unknown;
    let readyFailedAfter: number | undefined;
    while (refusal === undefined && accepted.length < 10_000) {
      const events = Array.from({ length: 20 }, () => capillaryEvent());
      const results = await Promise.allSettled(events.map((event) => store.acceptEvent({ event, payload: PAYLOAD, mapping: mapped(outbound(event.eventId)) })));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') accepted.push(events[i]!.eventId);
        else refusal ??= r.reason;
      });
      if (readyFailedAfter === undefined) {
        readyFailure = await store.checkWritable().catch((error: unknown) => error);
        if (readyFailure !== undefined) readyFailedAfter = accepted.length;
      }
    }

    expect(refusal).toBeInstanceOf(StoreUnavailableError);
    expect(((refusal as Error).cause as { code?: string }).code).toBe('SQLITE_FULL');
    // Readiness failed before commits did (2 MB before the cap), and still fails at the cap.
    expect(readyFailedAfter).toBeLessThan(accepted.length);
    expect(((readyFailure as Error).cause as { code?: string }).code).toBe('SQLITE_FULL');
    const atCap = await store.checkWritable().catch((error: unknown) => error);
    expect(atCap).toBeInstanceOf(StoreUnavailableError);
    expect(((atCap as Error).cause as { code?: string }).code).toBe('SQLITE_FULL');
    // Not a crash: the store still reads, and everything it acknowledged is there.
    expect((await store.queueStats(Date.now())).pending).toBe(accepted.length);
    expect((await store.getEvent(accepted.at(-1)!))?.state).toBe('pending');
    await store.close();
    console.info(`size cap 4 MB: ${accepted.length} events accepted, readiness failed after ${readyFailedAfter}`);

    const raised = createSqliteStore({ path, synchronous: 'normal', maxSizeBytes: 8 * MB, checkpointIntervalMs: 0 });
    await expect(raised.checkWritable()).resolves.toBeUndefined();
    const event = capillaryEvent();
    expect((await raised.acceptEvent({ event, payload: PAYLOAD, mapping: mapped(outbound(event.eventId)) })).outcome).toBe('accepted');
    expect((await raised.queueStats(Date.now())).pending).toBe(accepted.length + 1);
    await raised.close();
  });
});
