import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL server for the run (TEST_POSTGRES_URL, or a throwaway cluster): test/helpers/postgres.ts.
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Process-level tests (crash, fault injection, replicas) spawn servers; keep CPU for them.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
