import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger, createLogThrottle, lazyRequestLogger } from '../src/logger.js';

/** A pino logger at `level` writing its lines (parsed) to `lines`, counting the children made of it. */
function countedLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level }, sink);
  const counted = { children: 0 };
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => {
    counted.children += 1;
    return child(...args);
  }) as typeof logger.child;
  return { logger, lines, counted };
}

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

describe('lazyRequestLogger', () => {
  it('makes the child only when a line is written at an enabled level, once, with its bindings and redaction', () => {
    const { logger, lines, counted } = countedLogger('info');
    const log = lazyRequestLogger(logger, { reqId: 'req-1' }, {});
    log.debug({ detail: 1 }, 'below the level');
    log.trace('below the level');
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(counted.children).toBe(0);
    log.info({ headers: { authorization: 'Bearer secret-token' } }, 'first');
    log.warn('second');
    expect(counted.children).toBe(1);
    expect(lines.map((l) => [l['msg'], l['reqId']])).toEqual([['first', 'req-1'], ['second', 'req-1']]);
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });

  it('gives a route with its own level the child Fastify would make, and its level to whoever sets one', () => {
    const { logger, counted } = countedLogger('info');
    expect(lazyRequestLogger(logger, { reqId: 'r' }, { level: 'debug' }).isLevelEnabled('debug')).toBe(true);
    expect(counted.children).toBe(1);
    const log = lazyRequestLogger(logger, { reqId: 'r' }, {});
    expect(log.level).toBe('info');
    log.level = 'debug';
    expect(log.isLevelEnabled('debug')).toBe(true);
    expect(logger.level).toBe('info');
  });

  it('is what Fastify hands a request: an accepted request with nothing to say makes no child, a failing one logs with its reqId', async () => {
    const { logger, lines, counted } = countedLogger('info');
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyRequestLogger as never, disableRequestLogging: true });
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/loud', async (request) => {
      request.log.warn('something to say');
      return { ok: true };
    });
    try {
      await app.ready();
      const atStart = counted.children;
      expect((await app.inject({ url: '/quiet' })).statusCode).toBe(200);
      expect(counted.children - atStart).toBe(0);
      expect((await app.inject({ url: '/loud' })).statusCode).toBe(200);
      expect(counted.children - atStart).toBe(1);
      expect(lines.find((l) => l['msg'] === 'something to say')?.['reqId']).toEqual(expect.any(String));
    } finally {
      await app.close();
    }
  });
});
