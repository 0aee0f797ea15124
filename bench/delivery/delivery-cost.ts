/**
 * A diagnostic for the "What the profile shows" section: what the delivery worker's bookkeeping costs
 * the ingest path. The relay takes wrk load (as in phase 1) with delivery as in production, with
 * delivery throttled to one request a second (so it barely touches the store), and with two delivery
 * settings, in alternating rounds. Not part of `npm run bench` (about 2 minutes):
 *   npm run build && node dist/bench/delivery/delivery-cost.js [rounds=3] [seconds=6]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFastDcs, startFastIms } from '../fakes/fake-adobe-fast.js';
import { relayEnv, startRelay } from '../harness/processes.js';
import { loadSamples } from '../load/samples.js';
import { median } from '../harness/stats.js';
import { runWrk, writeWrkScript, wrkPath } from '../load/wrk.js';

const VARIANTS: Record<string, Record<string, string>> = {
  'production defaults': {},
  'delivery throttled to 1 request/s': { AEP_MAX_REQUESTS_PER_SECOND: '1' },
  'DELIVERY_LINGER_MS=200': { DELIVERY_LINGER_MS: '200' },
  'DELIVERY_CONCURRENCY=1': { DELIVERY_CONCURRENCY: '1' },
};

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 6);
const wrk = wrkPath();
if (!wrk) throw new Error('wrk is not installed (apt-get install -y wrk)');
const scratch = mkdtempSync(join(tmpdir(), 'delivery-cost-'));
const script = writeWrkScript(scratch, loadSamples());
const ims = await startFastIms();
const dcs = await startFastDcs();
const results = new Map<string, Array<{ rps: number; p99Ms: number; messagesPerRequest: number }>>();
try {
  for (let round = 0; round < rounds; round += 1) {
    const names = Object.keys(VARIANTS);
    if (round % 2 === 1) names.reverse();
    for (const name of names) {
      const dir = mkdtempSync(join(scratch, 'store-'));
      const relay = await startRelay(relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: VARIANTS[name] }));
      try {
        await runWrk(wrk, { url: relay.url, script, prefix: `warm${round}${Date.now()}`, seconds: 2, connections: 32, threads: 1 });
        const before = dcs.stats();
        const r = await runWrk(wrk, { url: relay.url, script, prefix: `m${round}${Date.now()}`, seconds, connections: 32, threads: 1 });
        const after = dcs.stats();
        const requests = after.requests - before.requests;
        const row = { rps: r.rps, p99Ms: r.p99Ms, messagesPerRequest: requests > 0 ? (after.messages - before.messages) / requests : NaN };
        (results.get(name) ?? results.set(name, []).get(name)!).push(row);
        process.stdout.write(`round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(1)} ms, ${row.messagesPerRequest.toFixed(0)} messages per Adobe request\n`);
      } finally {
        await relay.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  await dcs.close();
  await ims.close();
  rmSync(scratch, { recursive: true, force: true });
}
process.stdout.write(`\n| delivery | webhooks/s (median of ${rounds}) | p99 (median) | messages per Adobe request |\n| --- | ---: | ---: | ---: |\n`);
for (const [name, rows] of results) {
  process.stdout.write(
    `| ${name} | ${Math.round(median(rows.map((r) => r.rps)))} | ${median(rows.map((r) => r.p99Ms)).toFixed(1)} ms | ${median(rows.map((r) => r.messagesPerRequest)).toFixed(0)} |\n`,
  );
}
