import { createDatabase as createPrefixedDatabase, withClient } from '../../support/postgres-databases.js';
import { messageBodyOf } from '../../src/store/shared/views.js';
import { messageKey } from './message-key.js';

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

export { databaseUrl, findPostgresBin, MISSING_POSTGRES_MESSAGE, startPostgresServer, type PostgresServer } from '../../support/postgres-server.js';

/** Creates an empty database `relay_test_<run>_<random>` on the server and returns its URL. */
export async function createDatabase(serverUrl: string, runId = 'adhoc'): Promise<string> {
  return (await createPrefixedDatabase(serverUrl, `relay_test_${runId}`)).url;
}

/** Drops the databases one run created (on a server the tests do not own). */
export async function dropTestDatabases(serverUrl: string, runId: string): Promise<void> {
  await withClient(serverUrl, async (client) => {
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

/** The keys (message-key.ts) of this relay database's messages that meet `where` (alias `m`). */
async function messageKeysWhere(databaseUrl: string, where: string): Promise<Set<string>> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ body: string }>(`SELECT ${messageBodyOf('m')} AS body FROM messages m WHERE ${where}`);
    return new Set(rows.map((r) => messageKey(JSON.parse(r.body))));
  });
}

/**
 * The keys of the messages leased for delivery in this relay database now. The fault tests read it
 * at the moment the store goes away: a batch Adobe answered whose messages are still in flight has
 * an outcome that may go unrecorded, and so may be sent again.
 */
export function inFlightMessageKeys(databaseUrl: string): Promise<Set<string>> {
  return messageKeysWhere(databaseUrl, "m.state = 'in_flight'");
}

/**
 * The keys of the messages this relay database records as delivered more than once: a delivery
 * whose settlement found its message already settled, or leased again after its lease ran out (a
 * delivery slower than DELIVERY_LEASE_MS), is kept as a `delivered` row of delivery_attempts
 * beside the one on the message (settleAll in src/store/postgres/sql.ts). The relay's own account
 * of the copies it sent again, shown beside Adobe's copies when a fault test fails.
 */
export function messagesRecordedDeliveredTwice(databaseUrl: string): Promise<Set<string>> {
  return messageKeysWhere(databaseUrl, "EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.message_id = m.id AND a.outcome = 'delivered')");
}
