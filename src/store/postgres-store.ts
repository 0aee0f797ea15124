import type { Logger } from 'pino';
import type { Store } from './types.js';

// Placeholder until the PostgreSQL implementation lands (issue: scale out).
export async function createPostgresStore(_options: { connectionString: string; logger: Logger }): Promise<Store> {
  throw new Error('PostgreSQL store not implemented yet');
}
