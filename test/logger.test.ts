import { describe, expect, it } from 'vitest';
import { createLogThrottle } from '../src/logger.js';

describe('createLogThrottle', () => {
  it('writes a key once per interval and hands the next line the count it left out', () => {
    let clock = 0;
    const throttled = createLogThrottle({ intervalMs: 1000, now: () => clock });
    const written: [string, number][] = [];
    const log = (key: string) => throttled(key, (suppressed) => written.push([key, suppressed]));
    log('a');
    log('a');
    log('b');
    clock = 999;
    log('a');
    expect(written).toEqual([['a', 0], ['b', 0]]);
    clock = 1000;
    log('a');
    log('a');
    expect(written).toEqual([['a', 0], ['b', 0], ['a', 2]]);
  });

  it('remembers at most 1,000 keys, forgetting the oldest', () => {
    const throttled = createLogThrottle({ intervalMs: 60_000, now: () => 0 });
    let lines = 0;
    for (let i = 0; i <= 1000; i += 1) throttled(`key-${i}`, () => (lines += 1));
    expect(lines).toBe(1001);
    throttled('key-1000', () => (lines += 1));
    expect(lines).toBe(1001);
    // key-0 was forgotten to make room for key-1000: it writes again at once.
    throttled('key-0', () => (lines += 1));
    expect(lines).toBe(1002);
  });
});
