import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * PostgreSQL for tests. `TEST_POSTGRES_URL` names a server to use (CI's .ci/run starts one);
 * otherwise test/helpers/postgres-global-setup.ts starts a throwaway cluster for the whole run.
 * Each test file or suite takes its own database from createTestDatabase(). With neither a URL nor
 * PostgreSQL binaries the run fails, saying how to get them: these tests are never skipped.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { url: string; runId: string };
  }
}

const run = promisify(execFile);

export const MISSING_POSTGRES_MESSAGE = [
  'PostgreSQL is needed by the store tests, but TEST_POSTGRES_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) were found.',
  'Either install them: Debian/Ubuntu `apt-get install -y --no-install-recommends postgresql` (any version >= 13), macOS `brew install postgresql@15`;',
  'or point TEST_POSTGRES_BIN at the directory holding initdb and pg_ctl;',
  'or set TEST_POSTGRES_URL=postgres://user@host:port/postgres to a server where the tests may create databases.',
].join('\n');

/** A PostgreSQL server this process started and controls. */
export interface PostgresServer {
  /** URL of the `postgres` database (create test databases from it). */
  url: string;
  dataDir: string;
  bin: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its files. */
  destroy(): Promise<void>;
}

/** The directory with initdb and pg_ctl: TEST_POSTGRES_BIN, Debian's layout, pg_config, or PATH. */
export function findPostgresBin(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const fromEnv = process.env.TEST_POSTGRES_BIN;
  if (fromEnv) {
    if (has(fromEnv)) return fromEnv;
    throw new Error(`TEST_POSTGRES_BIN=${fromEnv} holds no initdb and pg_ctl.\n${MISSING_POSTGRES_MESSAGE}`);
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => has(join(debian, v, 'bin')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (has(dir)) return dir;
  } catch {
    // no pg_config on PATH
  }
  return (process.env.PATH ?? '').split(delimiter).find((dir) => dir !== '' && has(dir));
}

/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user. */
function asPostgresUser(command: string, args: string[]): Promise<unknown> {
  if (process.getuid?.() === 0) return run('runuser', ['-u', 'postgres', '--', command, ...args]);
  return run(command, args);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts a throwaway cluster (trust auth, no fsync) on a free port of 127.0.0.1, in a temp dir. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(MISSING_POSTGRES_MESSAGE);
  const root = await mkdtemp(join(tmpdir(), 'relay-pg-'));
  if (process.getuid?.() === 0) await run('chown', ['postgres', root]);
  const dataDir = join(root, 'data');
  const log = join(root, 'postgres.log');
  await asPostgresUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  // In the config file rather than on pg_ctl's command line, so a plain stop and start keeps them.
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${root}'`,
      'fsync = off',
      'max_connections = 200',
      '',
    ].join('\n'),
  );
  const pgCtl = (...args: string[]) => asPostgresUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-w', '-t', '60', ...args]);
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    bin,
    start: async () => {
      await pgCtl('-l', log, 'start');
    },
    stop: async () => {
      await pgCtl('-m', 'fast', 'stop');
    },
    restart: async () => {
      await server.stop();
      await server.start();
    },
    destroy: async () => {
      await server.stop().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return server;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database `relay_test_<run>_<random>` on the server and returns its URL. */
export async function createDatabase(serverUrl: string, runId = 'adhoc'): Promise<string> {
  const name = `relay_test_${runId}_${randomBytes(6).toString('hex')}`;
  await withAdmin(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  return databaseUrl(serverUrl, name);
}

/** Drops the databases one run created (on a server the tests do not own). */
export async function dropTestDatabases(serverUrl: string, runId: string): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`relay\\_test\\_${runId}\\_%`],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  });
}

/** A fresh, empty database on the run's server (see postgres-global-setup.ts); returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const { inject } = await import('vitest');
  const provided = inject('postgres');
  if (!provided) {
    throw new Error('No PostgreSQL server for this run: add test/helpers/postgres-global-setup.ts to globalSetup in vitest.config.ts.');
  }
  return createDatabase(provided.url, provided.runId);
}
