import { describe, expect, it } from 'vitest';
import { CHUNK_MAX_ROWS, CHUNK_MIN_ROWS, createChunkSizer } from '../../../src/store/sqlite/chunk-sizer.js';

/** A clock each chunk advances by what `cost(rows)` says that many rows took. */
function sizerWithCost(cost: (rows: number) => number, targetMs = 5) {
  let clock = 0;
  const sizer = createChunkSizer({ targetMs, now: () => clock });
  const sizes: number[] = [];
  for (let i = 0; i < 12; i += 1) {
    sizer.time((rows) => {
      sizes.push(rows);
      clock += cost(rows);
    });
  }
  return sizes;
}

describe('createChunkSizer', () => {
  it('settles on the rows that fit the time budget when rows are slow (0.1 ms each: 50 rows in 5 ms)', () => {
    const sizes = sizerWithCost((rows) => rows * 0.1);
    expect(sizes[0]).toBe(100);
    expect(sizes.slice(-3)).toEqual([50, 50, 50]);
  });

  it('grows at most twofold a chunk up to the maximum when rows are cheap', () => {
    const sizes = sizerWithCost((rows) => rows * 0.0001);
    expect(sizes.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(sizes.at(-1)).toBe(CHUNK_MAX_ROWS);
  });

  it('never goes under the minimum, however slow a chunk was (a job always moves on)', () => {
    const sizes = sizerWithCost(() => 1_000);
    expect(sizes.at(-1)).toBe(CHUNK_MIN_ROWS);
  });
});
