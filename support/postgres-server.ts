/**
 * A throwaway PostgreSQL server on 127.0.0.1, for the tests (test/helpers/postgres.ts) and the
 * scale-out benchmark (bench/scale-out-postgres.ts) alike: initdb into a temp dir, a free port,
 * trust auth, started and stopped with pg_ctl (as the `postgres` user when running as root, since
 * PostgreSQL refuses to run as root). Not part of the relay: built with bench/, never shipped.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MISSING_POSTGRES_MESSAGE = [
  'PostgreSQL is needed by the store tests and the scale-out benchmark, but TEST_POSTGRES_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) were found.',
  'Either install them: Debian/Ubuntu `apt-get install -y --no-install-recommends postgresql` (any version >= 13), macOS `brew install postgresql@15`;',
  'or point TEST_POSTGRES_BIN at the directory holding initdb and pg_ctl;',
  'or set TEST_POSTGRES_URL=postgres://user@host:port/postgres to a server where databases may be created.',
].join('\n');

/** A PostgreSQL server this process started and controls. */
export interface PostgresServer {
  /** URL of the `postgres` database (create databases from it). */
  url: string;
  dataDir: string;
  bin: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** The postmaster's pid while it runs (to count PostgreSQL's CPU). */
  postmasterPid(): number | undefined;
  /** Stops the server and deletes its files. */
  destroy(): Promise<void>;
}

/** The directory with initdb and pg_ctl: TEST_POSTGRES_BIN, Debian's layout, pg_config, or PATH. */
export function findPostgresBin(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const fromEnv = process.env['TEST_POSTGRES_BIN'];
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
  return (process.env['PATH'] ?? '').split(delimiter).find((dir) => dir !== '' && has(dir));
}

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

/**
 * Starts a throwaway cluster. `durable: false` (tests) turns fsync off for speed; `durable: true`
 * (benchmarks) keeps PostgreSQL's defaults, so an acknowledged webhook is on disk.
 */
export async function startPostgresServer(options: { durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(MISSING_POSTGRES_MESSAGE);
  const root = await mkdtemp(join(tmpdir(), 'relay-pg-'));
  if (process.getuid?.() === 0) await run('chown', ['postgres', root]);
  const dataDir = join(root, 'data');
  const log = join(root, 'postgres.log');
  await asPostgresUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', ...(options.durable ? [] : ['--no-sync']), '-E', 'UTF8']);
  const port = await freePort();
  // In the config file rather than on pg_ctl's command line, so a plain stop and start keeps them.
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${root}'`, ...(options.durable ? [] : ['fsync = off']), 'max_connections = 200', ''].join('\n'),
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
    postmasterPid: () => {
      try {
        return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
      } catch {
        return undefined;
      }
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
