import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: the console in Debian's Chromium (CHROMIUM_PATH); `npm test` needs no browser. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
