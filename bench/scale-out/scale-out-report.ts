/** Types, formatting and the SCALE-OUT.md report of the scale-out benchmark (bench/scale-out/scale-out.ts). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchPostgres } from '../postgres/bench-postgres.js';
import type { CpuUse, WrkResult } from './scale-out-load.js';
import { ROOT } from '../../support/repo-root.js';
import { median } from '../harness/stats.js';

export type Replicas = 1 | 2;


export interface Plan {
  quick: boolean;
  rounds: number;
  warmupSeconds: number;
  seconds: number;
  threads: number;
  connections: number;
  backlog: number;
}

export interface IngestRow {
  replicas: Replicas;
  round: number;
  wrk: WrkResult;
  cpu: CpuUse;
  events: number;
  delivered: number;
  duplicates: number;
  /** Webhooks each replica accepted. */
  split: number[];
}

export interface DrainRow {
  replicas: Replicas;
  round: number;
  messages: number;
  rate: number;
  toFirstMs: number;
  totalMs: number;
  cpu: CpuUse;
  duplicates: number;
  leftOver: number;
}

/** A round is "quiet" when other processes on the machine used less than this many cores meanwhile. */
const QUIET_OTHER_CORES = 0.2;
const QUIET_NOTE = `: other processes < ${QUIET_OTHER_CORES} core`;
type Quiet = { value: number; n: number } | undefined;
const quietCell = (q: Quiet) => (q === undefined ? 'no quiet round' : `${fmt(q.value)} (${q.n} round${q.n === 1 ? '' : 's'})`);
const quietRatio = (a: Quiet, b: Quiet) => (a === undefined || b === undefined ? '' : `${(b.value / a.value).toFixed(2)}×`);

const compare = (a: number, b: number) => (a > b * 1.2 ? 'more CPU than' : a < b * 0.8 ? 'less CPU than' : 'about as much CPU as');

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const cpuText = (c: CpuUse) =>
  `CPU cores: replicas ${c.replicas.toFixed(2)}, PostgreSQL ${c.postgres.toFixed(2)}, wrk + fake Adobe ${c.load.toFixed(2)}, other processes ${c.other.toFixed(2)}`;
const cpuCell = (c: CpuUse) => `${c.replicas.toFixed(2)} / ${c.postgres.toFixed(2)} / ${c.load.toFixed(2)} / ${c.other.toFixed(2)}`;

export function versions(pg: BenchPostgres, plan: Plan, wrk: string): Record<string, string> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const dep = (name: string) => `${name} ${lock.packages[`node_modules/${name}`]?.version ?? '?'}`;
  const quiet = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (error) {
      return String((error as { stdout?: string }).stdout ?? '').trim();
    }
  };
  return {
    'relay commit': `${quiet('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || '?'}${quiet('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']) ? ' (src/ had uncommitted changes)' : ''}`,
    CPU: `${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    OS: `Linux ${release()}`,
    'node / npm': `${process.version} / ${quiet('npm', ['-v']).split('\n').pop() ?? '?'}`,
    PostgreSQL: `${pg.version}; ${pg.origin}`,
    dependencies: ['pg', 'fastify', 'undici', 'pino'].map(dep).join(', '),
    'load average (1, 5, 15 min) at the start': loadavg().map((l) => l.toFixed(2)).join(', '),
    load: `wrk ${/wrk\s+(\S+)/.exec(quiet(wrk, ['-v']))?.[1] ?? '?'} (${wrk}), ${plan.threads} threads, ${plan.connections} connections`,
  };
}

export function report(o: {
  plan: Plan;
  ingest: IngestRow[];
  drain: DrainRow[];
  backlog: { pending: number; seconds: number };
  env: Record<string, string>;
  elapsedS: number;
}): string {
  const { plan, ingest, drain, backlog, env, elapsedS } = o;
  const quick = plan.quick;
  const quiet = (r: IngestRow | DrainRow) => r.cpu.other < QUIET_OTHER_CORES;
  const side = (n: Replicas) => {
    const i = ingest.filter((r) => r.replicas === n);
    const d = drain.filter((r) => r.replicas === n);
    const [qi, qd] = [i.filter(quiet), d.filter(quiet)];
    return {
      quietRps: qi.length === 0 ? undefined : { value: median(qi.map((r) => r.wrk.rps)), n: qi.length },
      quietDrain: qd.length === 0 ? undefined : { value: median(qd.map((r) => r.rate)), n: qd.length },
      cores: {
        ingestReplicas: median(i.map((r) => r.cpu.replicas)),
        ingestPostgres: median(i.map((r) => r.cpu.postgres)),
        drainReplicas: median(d.map((r) => r.cpu.replicas)),
        drainPostgres: median(d.map((r) => r.cpu.postgres)),
      },
      rps: median(i.map((r) => r.wrk.rps)),
      p50: median(i.map((r) => r.wrk.p50Ms)),
      p99: median(i.map((r) => r.wrk.p99Ms)),
      ingestCpu: `${median(i.map((r) => r.cpu.replicas)).toFixed(2)} / ${median(i.map((r) => r.cpu.postgres)).toFixed(2)}`,
      drain: median(d.map((r) => r.rate)),
      drainCpu: `${median(d.map((r) => r.cpu.replicas)).toFixed(2)} / ${median(d.map((r) => r.cpu.postgres)).toFixed(2)}`,
      twice: [...i, ...d].reduce((n, r) => n + r.duplicates, 0),
    };
  };
  const [one, two] = [side(1), side(2)];
  const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}×`;
  const summary = [
    '| measure | 1 replica | 2 replicas | 2 ÷ 1 |',
    '| --- | --- | --- | --- |',
    `| ingest, requests/s (median of rounds) | ${fmt(one.rps)} | ${fmt(two.rps)} | ${ratio(one.rps, two.rps)} |`,
    `| ingest, requests/s (median of quiet rounds${QUIET_NOTE}) | ${quietCell(one.quietRps)} | ${quietCell(two.quietRps)} | ${quietRatio(one.quietRps, two.quietRps)} |`,
    `| ingest latency p50 | ${one.p50.toFixed(1)} ms | ${two.p50.toFixed(1)} ms | ${ratio(one.p50, two.p50)} |`,
    `| ingest latency p99 | ${one.p99.toFixed(1)} ms | ${two.p99.toFixed(1)} ms | ${ratio(one.p99, two.p99)} |`,
    `| CPU cores during ingest: replicas / PostgreSQL (of ${cpus().length}) | ${one.ingestCpu} | ${two.ingestCpu} | |`,
    `| drain of a ${fmt(backlog.pending)}-message backlog, messages/s (median of rounds) | ${fmt(one.drain)} | ${fmt(two.drain)} | ${ratio(one.drain, two.drain)} |`,
    `| drain, messages/s (median of quiet rounds) | ${quietCell(one.quietDrain)} | ${quietCell(two.quietDrain)} | ${quietRatio(one.quietDrain, two.quietDrain)} |`,
    `| CPU cores during the drain: replicas / PostgreSQL | ${one.drainCpu} | ${two.drainCpu} | |`,
    `| events delivered twice (all rounds) | ${one.twice} | ${two.twice} | |`,
  ].join('\n');
  const ingestRows = ingest.map(
    (r) =>
      `| ${r.round + 1} | ${r.replicas} | ${fmt(r.wrk.rps)} | ${r.wrk.p50Ms.toFixed(1)} ms | ${r.wrk.p99Ms.toFixed(1)} ms | ${r.wrk.errors} | ${cpuCell(r.cpu)} | ${r.split.map((n) => fmt(n)).join(' + ')} | ${fmt(r.events)} / ${fmt(r.delivered)} / ${r.duplicates} |`,
  );
  const drainRows = drain.map(
    (r) => `| ${r.round + 1} | ${r.replicas} | ${fmt(r.rate)} | ${fmt(r.toFirstMs)} ms | ${fmt(r.totalMs)} ms | ${cpuCell(r.cpu)} | ${r.duplicates} | ${r.leftOver} |`,
  );
  const machine = Object.entries(env).map(([k, v]) => `| ${k} | ${v} |`);
  const command = `npm run bench:scale-out${quick ? ' -- --quick' : ''}`;
  return `# Scale-out: one relay replica vs two on one PostgreSQL store

Written by \`${command}\` (bench/scale-out/scale-out.ts) on ${new Date().toISOString()} in ${fmt(elapsedS)} s.${quick ? ' **Quick run: short rounds, small backlog; indicative only.**' : ''}

${busyNote(ingest, drain)}**Read this first.** This machine has ${cpus().length} cores. Both replicas, PostgreSQL, wrk and the fake Adobe
all share them, so a second replica adds no CPU: it only splits the same cores between two Node
processes (and adds a second connection pool, LISTEN connection and claim loop). What these figures
show is that two replicas share one store correctly under full load (every event stored once,
delivered once, none sent by both) and what sharing costs; they do not show horizontal speed-up,
which needs each replica on its own cores or machine, and PostgreSQL on its own.

## Summary

${summary}

## Machine, versions, command

|  |  |
| --- | --- |
| command | \`${command}\` |
${machine.join('\n')}

## How it is measured

- Each replica is a real process started as \`npm start\` starts it (package.json's environment and Node flags, \`dist/src/server.js\`) with the production
  defaults (\`LOG_LEVEL=info\`, batches of up to 500 messages, 4 delivery lanes, 20 ms linger), on
  \`STORE_URL=postgres://...\`. Adobe's per-process caps (\`AEP_MAX_REQUESTS_PER_SECOND\`,
  \`AEP_MAX_MESSAGES_PER_SECOND\`) are lifted so the relay, not the cap, is measured; in production
  divide Adobe's 10,000 messages/s between the replicas (README, "Limits respected").
- Bodies: the Capillary samples of test/fixtures/capillary in turn, each with a unique \`eventId\`. Only
  the ExperienceEvent dataset is configured, so one webhook is one message.
- Fake Adobe (bench/scale-out/scale-out-servers.ts): an IMS token, then 207 with one \`xactionId\` per message;
  it counts every message and every ExperienceEvent \`_id\`, so a message sent by both replicas (or
  twice by one) is counted in "twice".
- 1. Ingest: one wrk, ${plan.threads} threads, ${plan.connections} connections, ${plan.warmupSeconds} s warm-up then ${plan.seconds} s measured, on a fresh
  database with freshly started replicas per round; with two replicas, wrk's threads are pointed at
  one replica each (\`thread.addr\` in the Lua script), so one latency histogram covers the whole
  load. The replicas deliver to the fake Adobe meanwhile, as in production. ${plan.rounds} round(s), in
  alternating order (1-2, 2-1, ...); medians in the summary. After each round the queue is waited
  empty and every stored event must have reached Adobe exactly once.
- 2. Drain: ${fmt(plan.backlog)} webhooks are queued once (in ${backlog.seconds.toFixed(1)} s, by a replica whose delivery is held to about one
  message a second), the database is copied per round (\`CREATE DATABASE ... TEMPLATE\`), and one or
  two replicas are started on the copy at the same moment. Rate = backlog ÷ (last message − first
  message at the fake Adobe); "first" is from the spawn of the replicas.
- CPU (from /proc) during the measured ingest, or from the replicas listening to the last message of
  the drain, split into the replicas, PostgreSQL (when the bench started it), wrk with the fake Adobe
  (this process), and every other process on the machine. Rounds with "other" well
  above 0 ran on a shared, busy machine: their figures are low, and the medians lean on the rest.

## 1. Ingest rounds

| round | replicas | req/s | p50 | p99 | wrk errors | CPU cores: replicas / PostgreSQL / wrk + fake / other | accepted by each replica | stored / delivered / twice |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${ingestRows.join('\n')}

"Stored" counts warm-up and measured requests, and any cut off by wrk's stop after their commit;
"accepted by each replica" is each replica's \`relay_webhooks_received_total{outcome="accepted"}\`, which
leaves out those cut off (no response was sent).

## 2. Drain rounds

| round | replicas | msg/s | first message | all delivered | CPU cores: replicas / PostgreSQL / fake / other | twice | left in queue |
| --- | --- | --- | --- | --- | --- | --- | --- |
${drainRows.join('\n')}

## Reading the figures

- On ${cpus().length} cores a second replica competes with the first, and with PostgreSQL, for the same CPU, so a
  ratio near 1× (or below) is the expected result here, not a defect.
- Where the CPU went (medians, one replica): during ingest the replica used ${one.cores.ingestReplicas.toFixed(2)} cores and PostgreSQL
  ${one.cores.ingestPostgres.toFixed(2)}; during the drain the replica ${one.cores.drainReplicas.toFixed(2)} and PostgreSQL ${one.cores.drainPostgres.toFixed(2)}. So PostgreSQL used ${compare(one.cores.ingestPostgres, one.cores.ingestReplicas)}
  the relay while webhooks were taken, and ${compare(one.cores.drainPostgres, one.cores.drainReplicas)} the relay while messages were delivered
  (claim and settle statements). Replicas on their own machines add relay CPU, not store CPU: a horizontal
  speed-up needs PostgreSQL on its own, sized cores, and the shared store is the limit that remains.
- "Twice" must be 0 in every round: claims use \`FOR UPDATE SKIP LOCKED\` with leases, so two replicas
  never hold the same message; only a replica killed mid-send can cause one redelivery, after its
  lease expires (test/process/replicas.test.ts).
`;
}

/** A warning when other processes took CPU while rounds were measured. */
function busyNote(ingest: IngestRow[], drain: DrainRow[]): string {
  const rows = [...ingest, ...drain];
  const busy = rows.filter((r) => r.cpu.other >= QUIET_OTHER_CORES);
  if (busy.length === 0) return '';
  const worst = Math.max(...busy.map((r) => r.cpu.other));
  return (
    `**The machine was not quiet:** in ${busy.length} of ${rows.length} rounds other processes used ${QUIET_OTHER_CORES} or more of the ` +
    `${cpus().length} cores (up to ${worst.toFixed(2)}), so those rounds are lower than on an idle machine; 1 and 2 replicas ` +
    'ran alternately, so both sides met the noise; the summary gives medians of all rounds and of the quiet ones.\n\n'
  );
}
