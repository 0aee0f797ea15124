/**
 * PostgreSQL for the scale-out benchmark: the server TEST_POSTGRES_URL names, or a throwaway cluster
 * started here (support/postgres-server.ts, shared with the tests). Unlike the test cluster this one
 * keeps PostgreSQL's durable defaults (fsync and synchronous_commit on), so an acknowledged webhook
 * is on disk, as with the SQLite figures in BENCHMARKS.md.
 */
import { createDatabase, withClient } from '../../support/postgres-databases.js';
import { startPostgresServer } from '../../support/postgres-server.js';

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

async function serverVersion(url: string): Promise<string> {
  return withClient(url, async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown');
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env['TEST_POSTGRES_URL'];
  if (external) {
    return { url: external, origin: 'TEST_POSTGRES_URL', version: await serverVersion(external), postmasterPid: () => undefined, close: async () => undefined };
  }

  const server = await startPostgresServer({ durable: true });
  try {
    return {
      url: server.url,
      origin: 'throwaway cluster started by the bench (initdb defaults: fsync on, synchronous_commit on, shared_buffers 128 MB)',
      version: await serverVersion(server.url),
      postmasterPid: () => server.postmasterPid(),
      close: () => server.destroy(),
    };
  } catch (error) {
    await server.destroy();
    throw error;
  }
}

/** Creates `relay_bench_<label>_<random>` (optionally a copy of `template`); returns its name and URL. */
export function createBenchDatabase(serverUrl: string, label: string, template?: string): Promise<{ name: string; url: string }> {
  return createDatabase(serverUrl, `relay_bench_${label}`, template);
}

/** Events and messages by state in one database. */
export async function storeCounts(url: string): Promise<{ events: number; states: Record<string, number> }> {
  return withClient(url, async (c) => {
    const events = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]?.n ?? 0);
    const { rows } = await c.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM messages GROUP BY state');
    return { events, states: Object.fromEntries(rows.map((r) => [r.state, Number(r.n)])) };
  });
}
