/**
 * `npm run soak -- --minutes N [--store sqlite|postgres] [--rate 100] [--fault-every 60] [--out FILE]`
 *
 * Runs the built relay process under steady webhook load against a fake Adobe that counts every
 * accepted message by identity, with one fault a minute in rotation (kill -9 and restart on the
 * same store, Adobe outage, 429 storm, and a PostgreSQL restart on PostgreSQL). Then it stops the
 * load, waits for the queue to drain, prints acknowledged, delivered, lost, duplicates with causes,
 * dead letters, RSS and open file descriptors, and writes the same as markdown. Exits 1 if any
 * acknowledged webhook was never delivered. Stops by itself; not part of npm test or CI.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDatabase } from '../../support/postgres-databases.js';
import { startPostgresServer } from '../../support/postgres-server.js';
import { scratch } from '../context.js';
import { startFastIms } from '../fakes/fake-adobe-fast.js';
import { relayEnv, sampleProcess } from '../harness/processes.js';
import { ROOT } from '../../support/repo-root.js';
import { loadSamples } from '../load/samples.js';
import { startSoakDcs } from './soak-adobe.js';
import { attributeRepeats, injectFault, rotation, type FaultRecord } from './soak-faults.js';
import { startSoakLoad } from './soak-load.js';
import { openFds, startSoakRelay, type SoakRelay } from './soak-relay.js';
import { renderSoak } from './soak-report.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    store: { type: 'string', default: 'sqlite' },
    rate: { type: 'string', default: '100' },
    senders: { type: 'string', default: '4' },
    'fault-every': { type: 'string', default: '60' },
    out: { type: 'string', default: join(ROOT, 'bench', 'soak', 'SOAK.md') },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const senders = Number(args.senders);
const faultEveryMs = Number(args['fault-every']) * 1000;
const store = args.store;
if (!(minutes > 0) || !(rate > 0) || !(senders >= 1) || !(faultEveryMs > 0) || (store !== 'sqlite' && store !== 'postgres')) {
  console.error('usage: npm run soak -- --minutes N [--store sqlite|postgres] [--rate 100] [--senders 4] [--fault-every 60] [--out FILE]');
  process.exit(2);
}
/** Long enough for a lease left by kill -9 (60 s) and the longest backoff a short fault causes. */
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const FIRST_FAULT_AFTER_MS = 10_000;

const log = (message: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const dirs = scratch();
  const dcs = await startSoakDcs();
  const ims = await startFastIms();
  // Always a cluster of its own, never TEST_POSTGRES_URL's: the soak restarts it.
  const postgres = store === 'postgres' ? await startPostgresServer({ durable: true }) : undefined;
  let relay: SoakRelay | undefined;
  const cleanup = async () => {
    await relay?.stop().catch(() => undefined);
    await dcs.close();
    await ims.close();
    await postgres?.destroy();
    dirs.remove();
  };
  try {
    const dir = dirs.fresh('soak');
    const env = relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: postgres ? { STORE_URL: (await createDatabase(postgres.url, 'relay_soak')).url } : {} });
    const running = await startSoakRelay(env);
    relay = running;
    log(`relay pid ${running.processes[0]!.pid} on ${running.url} (ops ${running.opsUrl()}), store ${store}${postgres ? ` (PostgreSQL in ${postgres.dataDir})` : ''}`);

    const startedAt = Date.now();
    const loadEndsAt = startedAt + minutes * 60_000;
    const load = startSoakLoad({ url: () => running.url, samples: loadSamples(), prefix: `soak-${randomBytes(3).toString('hex')}`, rate, senders });
    const faults: FaultRecord[] = [];
    const kinds = rotation(store === 'postgres');
    const progress = setInterval(() => {
      const pid = running.processes[running.processes.length - 1]!.pid;
      const rss = sampleProcess(pid)?.rssMb.toFixed(1) ?? 'n/a';
      log(`issued ${load.issued()}, acknowledged ${load.acknowledged.size}, delivered ${dcs.firstAccepted.size}, repeats ${dcs.repeats.length}, relay pid ${pid} RSS ${rss} MB fds ${openFds(pid)}`);
    }, 60_000);

    for (let k = 0; startedAt + FIRST_FAULT_AFTER_MS + k * faultEveryMs < loadEndsAt; k += 1) {
      await sleep(startedAt + FIRST_FAULT_AFTER_MS + k * faultEveryMs - Date.now());
      const kind = kinds[k % kinds.length]!;
      log(`fault ${k + 1}: ${kind}`);
      const record = await injectFault(kind, { relay: running, dcs, ...(postgres ? { postgres } : {}) });
      faults.push(record);
      log(`fault ${k + 1} over: ${record.detail}`);
    }
    await sleep(loadEndsAt - Date.now());

    const drainStart = Date.now();
    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    log(`load stopped after ${minutes} min; ${load.backlog()} webhooks still to acknowledge, then the queue drains`);
    await load.finish(deadline);
    const undelivered = () => [...load.acknowledged].filter((id) => !dcs.firstAccepted.has(id)).length;
    while (undelivered() > 0 && performance.now() < deadline) await sleep(1000);
    clearInterval(progress);
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const deadLettered = await running.metric('relay_dead_letters').catch(() => undefined);
    await running.stop();
    const processes = running.processes;
    relay = undefined;

    const lost = undelivered();
    const duplicateIds = new Set(dcs.repeats.map((r) => r.id));
    const report = renderSoak({
      store,
      minutes,
      loadSeconds: (drainStart - startedAt) / 1000,
      faultEverySeconds: faultEveryMs / 1000,
      startedAt,
      rate,
      senders,
      issued: load.issued(),
      acknowledged: load.acknowledged.size,
      delivered: [...load.acknowledged].filter((id) => dcs.firstAccepted.has(id)).length,
      lost,
      drained: lost === 0,
      drainSeconds,
      duplicateMessages: duplicateIds.size,
      extraDeliveries: dcs.repeats.length,
      duplicateCauses: attributeRepeats(dcs.repeats, faults),
      deadLettered,
      unidentified: dcs.unidentified(),
      webhookOutcomes: load.outcomes,
      adobeAnswers: dcs.statuses(),
      processes,
      faults,
    });
    console.log(`\n${report}`);
    writeFileSync(args.out!, report);
    log(`written to ${args.out}`);
    return lost === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
