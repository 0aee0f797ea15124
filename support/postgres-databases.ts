/**
 * Databases on a PostgreSQL server (one support/postgres-server.ts started, or TEST_POSTGRES_URL's),
 * for the tests (test/helpers/postgres.ts) and the benchmarks alike: each call on an admin
 * connection of its own. Not part of the relay: built with bench/, never shipped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl } from './postgres-server.js';

/** Runs `fn` on a connection of its own to `url`, closed afterwards however far it got. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `<prefix>_<random>` on the server, empty or a copy of `template`; returns its name and URL. */
export async function createDatabase(serverUrl: string, prefix: string, template?: string): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  return { name, url: databaseUrl(serverUrl, name) };
}

/** Drops a database, cutting its open connections (a relay that has just stopped may still hold some). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
