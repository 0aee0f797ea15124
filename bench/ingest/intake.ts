/**
 * `npm run bench:intake`: the ingest rounds alone, quickly: the relay against the durable-intake
 * limit (durable-intake.ts), pinned (server on core 0, wrk and this process on core 1) unless told
 * otherwise, alternating ABBA. With `--before=<another build's dist/src/server.js>` the other build's
 * relay runs as a side too (same Node flags), so a change is measured against the code before it in
 * the same run: the CPU µs per webhook ratio is the figure to quote, req/s on a shared machine is not.
 *
 *   npm run bench:intake -- [--rounds=3] [--seconds=5] [--warmup=1] [--connections=32]
 *                           [--sides=relay,intake] [--before=dist/base/src/server.js] [--unpinned]
 *   --unpinned: unpinned rounds instead of pinned ones; --both: `rounds` of each.
 *   --before-flags=--flag1,--flag2: the Node flags of the relay-before side (default: this build's).
 *   --relay-env=NAME=VALUE,...: settings for every relay side (relay, relay-before, relay-held).
 *   --sides=relay,relay-held,intake: the relay against its own intake alone (every webhook held).
 *   --sides=relay,least-relay,intake: the relay against the least a relay that maps and delivers
 *   can cost (least-relay.ts).
 */
import { resolve } from 'node:path';
import { makePlan, startContext } from '../context.js';
import { relayEnvArgument, setRelayEnvOverrides } from '../harness/processes.js';
import { fmt, median } from '../harness/stats.js';
import { wrkPath } from '../load/wrk.js';
import { runIngestRounds, summarize, type IngestSide } from './phase-ingest.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const flag = (name: string) => process.argv.includes(`--${name}`);
const rounds = Number(arg('rounds') ?? 3);
const before = arg('before');
const sides = (arg('sides')?.split(',') ?? ['relay', 'intake', ...(before ? ['relay-before'] : [])]) as IngestSide[];
const both = flag('both');
const unpinnedOnly = flag('unpinned');

async function main() {
  setRelayEnvOverrides(relayEnvArgument(process.argv));
  const wrk = wrkPath();
  if (!wrk) throw new Error('bench: wrk is not installed');
  const t0 = performance.now();
  const log = (m: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
  const { ctx, close } = await startContext(makePlan(true, false), wrk, log);
  try {
    const all = await runIngestRounds(ctx, {
      sides,
      rounds: unpinnedOnly || both ? rounds : 0,
      pinnedRounds: unpinnedOnly ? 0 : rounds,
      seconds: Number(arg('seconds') ?? 5),
      warmupSeconds: Number(arg('warmup') ?? 1),
      connections: Number(arg('connections') ?? 32),
      threads: 1,
      ...(before ? { beforeScript: resolve(before) } : {}),
      ...(arg('before-flags') !== undefined ? { beforeFlags: arg('before-flags')!.split(',').filter(Boolean) } : {}),
    });
    for (const pinned of [false, true]) {
      const m = summarize(all, pinned);
      if (!m) continue;
      log(`${pinned ? 'pinned' : 'unpinned'}, medians over ${rounds} rounds:`);
      for (const [side, s] of Object.entries(m.sides)) {
        log(`  ${side.padEnd(12)} ${fmt.int(s.rps)} req/s, p99 ${fmt.ms(s.p99Ms)}, CPU ${fmt.int(s.cpuIngestUs)} µs/webhook ingest, ${fmt.int(s.cpuEndToEndUs)} end to end`);
      }
      if (m.sides.intake) log(`  relay ÷ limit: req/s ${m.relayOverLimitRps.toFixed(2)}, CPU µs end to end ${m.relayOverLimitCpu.toFixed(2)}`);
      const least = m.sides['least-relay'];
      if (least && m.sides.intake) {
        const over = (s: { cpuEndToEndUs: number } | undefined) => ((s?.cpuEndToEndUs ?? NaN) / least.cpuEndToEndUs).toFixed(2);
        log(`  least relay ÷ limit: CPU µs end to end ${(least.cpuEndToEndUs / m.sides.intake.cpuEndToEndUs).toFixed(2)}, req/s ${(least.rps / m.sides.intake.rps).toFixed(2)}; relay ÷ least relay ${over(m.sides.relay)}, relay-held ÷ least relay ${over(m.sides['relay-held'])}`);
      }
      const relayBefore = m.sides['relay-before'];
      if (relayBefore && m.sides.relay) {
        // Per round, then the median: each round's two relays ran back to back.
        const ratios = [...new Set(all.filter((r) => r.pinned === pinned).map((r) => r.round))].map((round) => {
          const of = (side: IngestSide) => all.find((r) => r.pinned === pinned && r.round === round && r.side === side)?.cpuUsEndToEnd ?? NaN;
          return of('relay') / of('relay-before');
        });
        log(
          `  relay ÷ relay-before: CPU µs end to end ${(m.sides.relay.cpuEndToEndUs / relayBefore.cpuEndToEndUs).toFixed(3)} (per round ${ratios.map((x) => x.toFixed(3)).join(', ')}, median ${median(ratios).toFixed(3)}), ` +
            `ingest ${(m.sides.relay.cpuIngestUs / relayBefore.cpuIngestUs).toFixed(3)}, req/s ${(m.sides.relay.rps / relayBefore.rps).toFixed(3)}`,
        );
      }
    }
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
