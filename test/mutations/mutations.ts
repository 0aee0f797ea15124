/**
 * Deliberate faults the tests must catch (issue 11). Each edit replaces text that must occur exactly
 * once in the file: when the code moves on and a `find` no longer matches, the script fails and the
 * mutation is updated, rather than silently testing nothing.
 */
export interface Mutation {
  name: string;
  edits: { file: string; find: string; replace: string }[];
  /** The test files that should kill it (kept few: the whole run takes minutes on 2 cores). */
  tests: string[];
}

export const MUTATIONS: Mutation[] = [
  {
    name: 'send each batch twice',
    edits: [
      {
        file: 'src/adobe/dcs-client.ts',
        find: '      const res = await request(batchUrl, {\n',
        replace:
          "      await (await request(batchUrl, { method: 'POST', dispatcher: deps.dispatcher, headers, body, signal: deadline.signal })).body.text();\n" +
          '      const res = await request(batchUrl, {\n',
      },
    ],
    tests: ['test/adobe/dcs-client.test.ts', 'test/process/fault-injection.test.ts'],
  },
  {
    name: 'mark profile records delivered without sending',
    edits: [
      {
        file: 'src/adobe/dcs-client.ts',
        find: '    async send(batch, signal) {\n      if (batch.length === 0) return [];\n',
        replace:
          '    async send(everything, signal) {\n' +
          "      const skipped = everything.filter((m) => m.kind === 'profile').map((m) => ({ id: m.id, outcome: 'delivered' as const }));\n" +
          "      const batch = everything.filter((m) => m.kind !== 'profile');\n" +
          '      if (batch.length === 0) return skipped;\n',
      },
      {
        file: 'src/adobe/dcs-client.ts',
        find: '      return ctx.outcomes as MessageOutcome[];\n',
        replace: '      return [...(ctx.outcomes as MessageOutcome[]), ...skipped];\n',
      },
    ],
    tests: ['test/adobe/aep-delivery.test.ts', 'test/process/crash-recovery.test.ts'],
  },
  {
    name: 'answer 202 before the commit',
    edits: [
      {
        file: 'src/ingest/webhook-route.ts',
        find: 'const result = await app.store.acceptEvent(',
        replace: "const result = { outcome: 'accepted' as const, skippedProfiles: 0 };\n      void app.store.acceptEvent(",
      },
      // The end of the acceptEvent call, whatever its arguments: its promise is left to settle on its own.
      { file: 'src/ingest/webhook-route.ts', find: ' });\n      request.webhook.outcome', replace: ' }).catch(() => undefined);\n      request.webhook.outcome' },
    ],
    tests: ['test/ingest/webhook-route.test.ts'],
  },
  {
    name: 'skip the fsync (STORE_SYNCHRONOUS=full not applied)',
    edits: [
      { file: 'src/store/sqlite/open.ts', find: "db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);", replace: "db.pragma('synchronous = NORMAL');" },
      { file: 'src/store/sqlite/transactions.ts', find: "      db.pragma('synchronous = FULL');", replace: "      db.pragma('synchronous = NORMAL');" },
    ],
    tests: ['test/store/sqlite/durability.test.ts'],
  },
  {
    name: 'drop the Retry-After pause (rate limiter)',
    edits: [
      {
        file: 'src/delivery/rate-limiter.ts',
        find: 'if (retryAfterMs !== undefined && retryAfterMs > 0) pausedUntil = Math.max(pausedUntil, t + retryAfterMs);',
        replace: 'if (retryAfterMs !== undefined && retryAfterMs > 0) void pausedUntil;',
      },
    ],
    tests: ['test/delivery/rate-limiter.test.ts'],
  },
  {
    name: 'drop the Retry-After floor on the retry delay (backoff)',
    edits: [{ file: 'src/delivery/backoff.ts', find: 'const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.maxMs);', replace: 'const floor = 0;' }],
    tests: ['test/delivery/backoff.test.ts', 'test/delivery/delivery-worker.test.ts'],
  },
];
