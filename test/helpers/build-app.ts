import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import relayApp, { serverOptions, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';

export const TEST_SECRET = 'capillary-test-secret-7f3a';
export const ADMIN_TOKEN = 'admin-test-token-91c2-0123456789abcdef';

/** Every log line the app wrote, for assertions (e.g. that no secret ever appears). */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
    done();
  }
  get text() {
    return this.lines.join('\n');
  }
}

/** A trace-level pino logger whose lines a test can read (e.g. to prove no secret was logged). */
export function captureLogger(): { logger: pino.Logger; lines: string[] } {
  const capture = new LogCapture();
  return { logger: pino({ level: 'trace' }, capture), lines: capture.lines };
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  dir: string;
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * Builds the relay exactly as server.ts does, on a fresh SQLite file in a temp folder, in dry-run
 * unless `env` points it at a fake Adobe. Use `app.inject` for requests.
 */
export async function buildTestApp(env: Record<string, string> = {}, seams: Omit<AppOptions, 'config'> = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-app-'));
  const config = loadConfig({
    CAPILLARY_AUTH_SECRETS: TEST_SECRET,
    ADMIN_TOKEN,
    STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    DRY_RUN_FILE: join(dir, 'dry-run.ndjson'),
    LOG_LEVEL: 'debug',
    // One listener: app.inject reaches every route. Split listeners are tested with real sockets
    // (test/security/listeners.test.ts).
    OPS_PORT: '8080',
    PORT: '8080',
    DELIVERY_LINGER_MS: '0',
    SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
  const logs = new LogCapture();
  const logger = createLogger({ level: config.env.LOG_LEVEL, authHeader: config.auth.header }, logs);
  const app = Fastify(serverOptions(config, logger));
  await app.register(relayApp, { config, ...seams });
  await app.ready();
  let closed = false;
  return {
    app,
    config,
    dir,
    logs,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const authHeaders = { authorization: TEST_SECRET, 'content-type': 'application/json' };
export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };
