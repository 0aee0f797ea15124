/**
 * How many rows the next chunk of a long store job (prune, replay of every dead letter) may touch:
 * as many as fit in `targetMs`, learned from the chunks before. A fixed row count is not a time
 * bound: 1,000 small rows delete in a millisecond, 1,000 rows with kilobyte bodies and their index
 * entries take tens, and every webhook commit waits for the chunk in progress (issue 12: webhook p99
 * under 100 ms while a 1,000,000-row prune runs).
 */
export interface ChunkSizer {
  /** Rows for the next chunk. */
  readonly rows: number;
  /** How long the last chunk took, ms. */
  readonly lastMs: number;
  /** Runs one chunk and sizes the next from how long it took. */
  time<T>(chunk: (rows: number) => T): T;
}

export const CHUNK_TARGET_MS = 5;
export const CHUNK_MIN_ROWS = 20;
export const CHUNK_MAX_ROWS = 1000;

export function createChunkSizer(options: { targetMs?: number; minRows?: number; maxRows?: number; now?: () => number } = {}): ChunkSizer {
  const targetMs = options.targetMs ?? CHUNK_TARGET_MS;
  const minRows = options.minRows ?? CHUNK_MIN_ROWS;
  const maxRows = options.maxRows ?? CHUNK_MAX_ROWS;
  const now = options.now ?? (() => performance.now());
  // Start small: the first chunk of a job on an unknown table must not be the one that stalls.
  let rows = Math.max(minRows, Math.min(maxRows, 100));
  let lastMs = 0;
  return {
    get rows() {
      return rows;
    },
    get lastMs() {
      return lastMs;
    },
    time(chunk) {
      const started = now();
      const result = chunk(rows);
      const took = Math.max(now() - started, 0.01);
      lastMs = took;
      // Proportional, growing at most twofold a chunk so one lucky fast chunk cannot overshoot.
      rows = Math.round(Math.max(minRows, Math.min(maxRows, rows * 2, (rows * targetMs) / took)));
      return result;
    },
  };
}
