import type Database from 'better-sqlite3';

/**
 * STORE_MAX_SIZE_MB: a cap on the SQLite database, so the store fills up cleanly (SQLITE_FULL: 503
 * with Retry-After, /readyz failing) before the disk does, and the disk keeps room for the WAL, logs
 * and everything else on it. SQLite enforces it per connection (`PRAGMA max_page_count`), so every
 * connection the store opens applies it. The WAL is not counted (it stays near its own bound).
 */

/**
 * Caps the database behind `db` at `maxBytes` and returns the cap in pages that SQLite took. SQLite
 * never sets it below the database's current size: a database already past the cap stays at its
 * size (full) until the cap is raised.
 */
export function capDatabaseSize(db: Database.Database, maxBytes: number): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = Math.max(1, Math.floor(maxBytes / pageSize));
  return db.pragma(`max_page_count = ${pages}`, { simple: true }) as number;
}

/** Bytes the database can still grow by under its cap: pages never used plus pages freed by deletes. */
export function roomUnderCap(db: Database.Database): number {
  const pragma = (name: string) => db.pragma(name, { simple: true }) as number;
  return (pragma('max_page_count') - pragma('page_count') + pragma('freelist_count')) * pragma('page_size');
}
