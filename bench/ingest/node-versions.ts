/**
 * The relay on two Node releases side by side (issue 22: Node 24 beside Node 22): the same build,
 * the same store settings and load, each release's relay started in turn, ABBA, so the machine's
 * drift hits both. Per release: webhooks/s and p99 under wrk, CPU µs per accepted webhook (every
 * thread, /proc), RSS at rest after start-up and the peak under load.
 *
 *   npm run bench:node-versions -- --a=/path/to/node22/bin/node --b=/path/to/node24/bin/node [--rounds=4] [--seconds=10]
 *
 * better-sqlite3 13 ships a Node-API binary, so one node_modules serves both releases.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { makePlan, startContext } from '../context.js';
import { cpuSeconds, monitor, relayEnv, sampleProcess, startRelay } from '../harness/processes.js';
import { acceptedSoFar, median, sleep } from '../harness/stats.js';
import { runWrk, wrkPath } from '../load/wrk.js';

interface Round {
  node: string;
  rps: number;
  p99Ms: number;
  cpuUs: number;
  restMb: number;
  peakMb: number;
}

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const a = arg('a');
const b = arg('b');
if (!a || !b) {
  process.stderr.write('usage: npm run bench:node-versions -- --a=<node binary> --b=<node binary> [--rounds=4] [--seconds=10]\n');
  process.exit(2);
}
const rounds = Number(arg('rounds') ?? 4);
const seconds = Number(arg('seconds') ?? 10);
const versionOf = (node: string) => execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
const wrk = wrkPath();
if (!wrk) throw new Error('bench: wrk not found (apt-get install wrk)');

const { ctx, close } = await startContext(makePlan(true, false), wrk, (m) => process.stdout.write(`${m}\n`));
const { ims, dcs, wrkScript: script } = ctx;
const results: Round[] = [];
let run = 0;
try {
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? [a, b] : [b, a];
    for (const node of order) {
      const storeDir = ctx.freshDir('store');
      const relay = await startRelay(relayEnv({ dir: storeDir, dcsInletUrl: dcs.inletUrl, ims }), [], node);
      try {
        await sleep(1000);
        const restMb = sampleProcess(relay.pid)?.rssMb ?? NaN;
        const load = (s: number) => runWrk(wrk, { url: relay.url, script, prefix: `nv${Date.now()}x${(run += 1)}`, seconds: s, connections: 32, threads: 1 });
        await load(2);
        const before = await acceptedSoFar(relay.opsUrl);
        const mon = monitor(relay.pid);
        const cpu0 = cpuSeconds(relay.pid);
        const result = await load(seconds);
        const cpu = cpuSeconds(relay.pid) - cpu0;
        const accepted = (await acceptedSoFar(relay.opsUrl)) - before;
        const row = { node, rps: result.rps, p99Ms: result.p99Ms, cpuUs: (cpu / accepted) * 1e6, restMb, peakMb: mon.peakMb() };
        mon.stop();
        results.push(row);
        process.stdout.write(`round ${round + 1} ${versionOf(node)}: ${Math.round(row.rps)} webhooks/s, p99 ${row.p99Ms.toFixed(1)} ms, ${row.cpuUs.toFixed(0)} µs CPU/webhook, RSS ${row.restMb.toFixed(0)} MB at rest, ${row.peakMb.toFixed(0)} MB peak\n`);
      } finally {
        await relay.stop();
        rmSync(storeDir, { recursive: true, force: true });
      }
    }
  }
} finally {
  await close();
}

const summary = (node: string) => {
  const rs = results.filter((r) => r.node === node);
  const m = (k: keyof Omit<Round, 'node'>) => median(rs.map((r) => r[k]));
  return { version: versionOf(node), rps: m('rps'), p99Ms: m('p99Ms'), cpuUs: m('cpuUs'), restMb: m('restMb'), peakMb: m('peakMb') };
};
const sa = summary(a);
const sb = summary(b);
const line = (s: ReturnType<typeof summary>) =>
  `| ${s.version} | ${Math.round(s.rps)} | ${s.p99Ms.toFixed(1)} | ${s.cpuUs.toFixed(0)} | ${s.restMb.toFixed(0)} | ${s.peakMb.toFixed(0)} |`;
process.stdout.write(
  [
    '',
    `Medians of ${rounds} ABBA rounds of ${seconds} s each (wrk, 32 connections, durable SQLite commits, delivering to a fake Adobe):`,
    '',
    '| Node | webhooks/s | p99 ms | CPU µs per webhook | RSS at rest MB | peak RSS MB |',
    '| --- | --- | --- | --- | --- | --- |',
    line(sa),
    line(sb),
    `| ${sb.version} ÷ ${sa.version} | ${(sb.rps / sa.rps).toFixed(2)} | ${(sb.p99Ms / sa.p99Ms).toFixed(2)} | ${(sb.cpuUs / sa.cpuUs).toFixed(2)} | ${(sb.restMb / sa.restMb).toFixed(2)} | ${(sb.peakMb / sa.peakMb).toFixed(2)} |`,
    '',
  ].join('\n'),
);
