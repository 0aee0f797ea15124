import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { withClient } from '../../support/postgres-databases.js';
import { dropTestDatabases, MISSING_POSTGRES_MESSAGE, startPostgresServer } from './postgres.js';

/**
 * One PostgreSQL server for the whole test run: the one TEST_POSTGRES_URL names (CI starts it), or
 * a throwaway cluster started here and removed afterwards. Tests reach it through
 * createTestDatabase() in ./postgres.ts (via `inject('postgres')`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(3).toString('hex');
  const external = process.env.TEST_POSTGRES_URL;
  if (external) {
    await assertReachable(external);
    project.provide('postgres', { url: external, runId });
    return () => dropTestDatabases(external, runId);
  }
  const server = await startPostgresServer();
  project.provide('postgres', { url: server.url, runId });
  return () => server.destroy();
}

async function assertReachable(url: string): Promise<void> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`TEST_POSTGRES_URL is set but PostgreSQL cannot be reached there (${reason}).\n${MISSING_POSTGRES_MESSAGE}`);
  }
}
