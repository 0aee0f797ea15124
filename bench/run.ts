/**
 * `npm run bench`: the relay's benchmark harness (issues 6 and 12). Starts everything it needs on
 * 127.0.0.1 and measures, side by side in alternating rounds: ingest against bare Fastify (req/s, p99,
 * CPU per webhook), PostgreSQL against SQLite, sustained end-to-end rate, drain of a backlog after an
 * Adobe outage, memory, a synchronous hand-written relay, and webhook latency while a long replay
 * and a long prune run; then profiles the relay during ingest and drain. Prints issue 12's targets
 * (floor, goal, verdict) and writes BENCHMARKS.md.
 *
 *   npm run bench                      full run (about 11 minutes on 2 cores), writes BENCHMARKS.md
 *   npm run bench -- --quick           smoke run (about 2 minutes), writes dist/BENCHMARKS.quick.md
 *   npm run bench -- --no-profile      skip the --cpu-prof runs
 *   npm run bench -- --only=ingest,stall   some phases only (ingest, postgres, sustained, drain, outage, sync, stall), nothing written
 *   npm run bench -- --relay-env=STORE_SYNCHRONOUS=normal,DELIVERY_LINGER_MS=50   experiment with settings
 *                                      (a run with --relay-env does not write BENCHMARKS.md either)
 *   BENCH_STALL_OTHER_WRITES_MB=1000 npm run bench -- --only=stall   phase 6 with another process writing
 *                                      to the disk (nothing written); BENCH_STALL_DUMP=<file>: the prune's timelines
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makePlan, startContext } from './context.js';
import { drainPhase } from './delivery/phase-drain.js';
import { ingestPhase } from './ingest/phase-ingest.js';
import { outagePhase } from './delivery/phase-outage.js';
import { postgresPhase } from './postgres/phase-postgres.js';
import { profilePhase } from './profile/phase-profile.js';
import { stallPhase } from './stall/phase-stall.js';
import { sustainedPhase } from './ingest/phase-sustained.js';
import { syncPhase } from './ingest/phase-sync.js';
import { BENCHMARKS_FILE, consoleTable, markdown, summaryRows, writeBenchmarks, type Results } from './report/report.js';
import { relayEnvArgument, setRelayEnvOverrides } from './harness/processes.js';
import { ROOT } from '../support/repo-root.js';
import { wrkPath, wrkVersion } from './load/wrk.js';

const PHASES = ['ingest', 'postgres', 'sustained', 'drain', 'outage', 'sync', 'stall'] as const;
type Phase = (typeof PHASES)[number];

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const noProfile = argv.includes('--no-profile');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? (onlyArg.slice('--only='.length).split(',') as Phase[]) : undefined;
  for (const p of only ?? []) if (!PHASES.includes(p)) throw new Error(`bench: unknown phase ${p} (use ${PHASES.join(', ')})`);
  const relayEnv = relayEnvArgument(argv);
  const unknown = argv.filter((a) => !['--quick', '--no-profile'].includes(a) && !a.startsWith('--only=') && !a.startsWith('--relay-env='));
  if (unknown.length) throw new Error(`bench: unknown option ${unknown.join(' ')} (use --quick, --no-profile, --only=PHASES, --relay-env=K=V,...)`);
  return { quick, profile: !noProfile && (!only || only.includes('drain')), only, relayEnv };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function environment(wrk: string, command: string): Array<[string, string]> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const sqlite = (() => {
    const db = new Database(':memory:');
    try {
      return (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
    } finally {
      db.close();
    }
  })();
  const npm = (() => {
    try {
      return execFileSync('npm', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  const source = `git ${git('rev-parse', '--short', 'HEAD') || 'unknown'}${dirty ? ` with ${dirty} uncommitted change(s) in src/` : ', src/ as committed'}`;
  const deps = ['fastify', 'undici', 'better-sqlite3', 'pino', '@fastify/rate-limit', 'prom-client', 'ajv', 'typescript'];
  return [
    ['command', `\`${command}\``],
    ['relay source', source],
    ['CPU', `${cpu}, ${os.cpus().length} cores`],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
    ['node / npm', `${process.version} / ${npm}`],
    ['dependencies', deps.map((d) => `${d} ${packageVersion(d)}`).join(', ') + `, SQLite ${sqlite}`],
    ['load', `wrk ${wrkVersion(wrk)} (${wrk}); bench/load/load-gen.ts on undici ${packageVersion('undici')}`],
  ];
}

/** Linux pressure stall totals (µs some task waited for CPU / IO) and the 1-minute load average. */
function machineLoad(): { cpuUs: number; ioUs: number; load1: number; at: number } {
  const some = (what: string) => {
    try {
      return Number(/^some .*total=(\d+)/m.exec(readFileSync(`/proc/pressure/${what}`, 'utf8'))?.[1] ?? NaN);
    } catch {
      return NaN;
    }
  };
  return { cpuUs: some('cpu'), ioUs: some('io'), load1: os.loadavg()[0] ?? NaN, at: performance.now() };
}

function describeLoad(start: ReturnType<typeof machineLoad>, end: ReturnType<typeof machineLoad>): string {
  const wallUs = (end.at - start.at) * 1000;
  const share = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${(((b - a) / wallUs) * 100).toFixed(0)}%` : 'n/a');
  return (
    `1-minute load average ${start.load1.toFixed(1)} at the start, ${end.load1.toFixed(1)} at the end; some task waiting for CPU ${share(start.cpuUs, end.cpuUs)} ` +
    `and for IO ${share(start.ioUs, end.ioUs)} of the run (Linux PSI). Other work on the machine (other sessions' test runs) competes with the benchmark.`
  );
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const wrk = wrkPath();
  if (!wrk) {
    process.stderr.write('bench: wrk is not installed (Debian: apt-get install -y wrk)\n');
    process.exit(1);
  }
  const plan = makePlan(args.quick, args.profile);
  setRelayEnvOverrides(args.relayEnv);
  const startedAt = new Date();
  const loadAtStart = machineLoad();
  const t0 = performance.now();
  const log = (m: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
  const { ctx, close: cleanup } = await startContext(plan, wrk, log);
  const results: Results = { plan, command, startedAt, durationS: 0, environment: environment(wrk, command) };
  const wants = (p: Phase) => !args.only || args.only.includes(p);
  let stopping = false;
  process.once('SIGINT', () => {
    if (stopping) return;
    stopping = true;
    log('interrupted: cleaning up');
    void cleanup().then(() => process.exit(130));
  });

  try {
    log(`benchmark${plan.quick ? ' (quick)' : ''}: scratch ${ctx.dir}`);
    if (wants('ingest')) {
      log('1. ingest: relay vs bare Fastify');
      results.ingest = await ingestPhase(ctx);
    }
    if (wants('postgres')) {
      log('1b. PostgreSQL, one replica, vs SQLite');
      results.postgres = await postgresPhase(ctx);
    }
    if (wants('sustained')) {
      log('2. sustained end to end');
      results.sustained = await sustainedPhase(ctx);
    }
    if (wants('drain')) {
      log('3/4. drain after an outage, memory with a backlog');
      results.drain = await drainPhase(ctx);
    }
    if (wants('outage')) {
      log('3b. drain after a 503 outage');
      results.outage = await outagePhase(ctx);
    }
    if (wants('sync')) {
      log('5. relay vs a synchronous relay');
      results.sync = await syncPhase(ctx);
    }
    if (wants('stall')) {
      log('6. webhooks while a long replay and a long prune run');
      results.stall = await stallPhase(ctx);
    }
    if (plan.profile) {
      log('profiling the relay (node --cpu-prof)');
      results.profile = await profilePhase(ctx, results.drain?.profileStoreDir, plan.profiling.drainBacklog);
    }
  } finally {
    await cleanup();
  }
  results.durationS = (performance.now() - t0) / 1000;
  results.environment.push(['machine load during the run', describeLoad(loadAtStart, machineLoad())]);

  process.stdout.write(`\n${consoleTable(summaryRows(results))}\n\n`);
  if (args.only || Object.keys(args.relayEnv).length > 0 || process.env['BENCH_STALL_OTHER_WRITES_MB']) {
    log('--only, --relay-env or BENCH_STALL_OTHER_WRITES_MB: nothing written');
  } else if (plan.quick) {
    const file = join(ROOT, 'dist', 'BENCHMARKS.quick.md');
    writeFileSync(file, markdown(results));
    log(`quick run: written to ${file} (BENCHMARKS.md is left as it was)`);
  } else {
    writeBenchmarks(results);
    log(`written to ${BENCHMARKS_FILE}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
