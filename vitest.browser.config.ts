import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: the console in Debian's Chromium (CHROMIUM_PATH); `npm test` needs no browser. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    // The console runs on both stores: the same PostgreSQL server setup as vitest.config.ts.
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
