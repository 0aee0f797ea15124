/**
 * PostgreSQL for the scale-out benchmark: the server TEST_POSTGRES_URL names, or a throwaway cluster
 * started here (initdb + pg_ctl on a free port of 127.0.0.1, removed afterwards). The same small
 * logic as test/helpers/postgres.ts, copied because bench code is built without test/. Unlike the
 * test cluster this one keeps PostgreSQL's durable defaults (fsync and synchronous_commit on), so an
 * acknowledged webhook is on disk, as with the SQLite figures in BENCHMARKS.md.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface BenchPostgres {
  /** URL of the `postgres` database (databases are created from it). */
  url: string;
  /** `throwaway cluster (fsync on)` or `TEST_POSTGRES_URL`. */
  origin: string;
  version: string;
  /** The postmaster's pid when the bench started the server (to count PostgreSQL's CPU as the bench's own). */
  postmasterPid(): number | undefined;
  close(): Promise<void>;
}

function findBin(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const fromEnv = process.env['TEST_POSTGRES_BIN'];
  if (fromEnv) return has(fromEnv) ? fromEnv : undefined;
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

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function serverVersion(url: string): Promise<string> {
  return withClient(url, async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown');
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env['TEST_POSTGRES_URL'];
  if (external) {
    return { url: external, origin: 'TEST_POSTGRES_URL', version: await serverVersion(external), postmasterPid: () => undefined, close: async () => undefined };
  }

  const bin = findBin();
  if (!bin) {
    throw new Error(
      'bench: PostgreSQL is needed. Set TEST_POSTGRES_URL=postgres://user@host:port/postgres, or install the server binaries ' +
        '(Debian: apt-get install -y --no-install-recommends postgresql) or point TEST_POSTGRES_BIN at initdb and pg_ctl.',
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'relay-bench-pg-'));
  if (process.getuid?.() === 0) await run('chown', ['postgres', root]);
  const dataDir = join(root, 'data');
  const pgCtl = (...args: string[]) => asPostgresUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-w', '-t', '60', ...args]);
  try {
    await asPostgresUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const port = await freePort();
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${root}'`, 'max_connections = 200', ''].join('\n'),
    );
    await pgCtl('-l', join(root, 'postgres.log'), 'start');
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      origin: 'throwaway cluster started by the bench (initdb defaults: fsync on, synchronous_commit on, shared_buffers 128 MB)',
      version: await serverVersion(url),
      postmasterPid: () => {
        try {
          return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
        } catch {
          return undefined;
        }
      },
      close: async () => {
        await pgCtl('-m', 'fast', 'stop').catch(() => undefined);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates `relay_bench_<label>_<random>` (optionally a copy of `template`); returns its name and URL. */
export async function createBenchDatabase(serverUrl: string, label: string, template?: string): Promise<{ name: string; url: string }> {
  const name = `relay_bench_${label}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  return { name, url: databaseUrl(serverUrl, name) };
}

export async function dropBenchDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Events and messages by state in one database. */
export async function storeCounts(url: string): Promise<{ events: number; states: Record<string, number> }> {
  return withClient(url, async (c) => {
    const events = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]?.n ?? 0);
    const { rows } = await c.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM messages GROUP BY state');
    return { events, states: Object.fromEntries(rows.map((r) => [r.state, Number(r.n)])) };
  });
}
