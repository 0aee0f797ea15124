import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { relayListening, startListening, type ListeningProcess } from '../../support/listening-process.js';
import { relayNodeFlags, relayStartEnv } from '../../support/relay-node-flags.js';
import { ROOT } from '../../support/repo-root.js';
import { AUTH_SECRET } from '../load/samples.js';

export interface ServerProcess extends ListeningProcess {
  name: string;
}

/**
 * Starts `node [nodeArgs] script` from the repository (or `cwd`) and resolves once a JSON log line
 * carries a port and satisfies `ready` (the relay logs "relay listening ...", the bench servers
 * `{"ready":true,"port"}`).
 */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  options: { nodeArgs?: string[]; node?: string; ready?: (line: Record<string, unknown>) => boolean; timeoutMs?: number; cwd?: string } = {},
): Promise<ServerProcess> {
  const server = await startListening(script, {
    name: `bench: ${name}`,
    env,
    nodeArgs: options.nodeArgs,
    node: options.node,
    cwd: options.cwd ?? ROOT,
    ready: options.ready ?? ((line) => line['ready'] === true),
    timeoutMs: options.timeoutMs ?? 30_000,
    // Keep the last lines only: the relay's logs are for diagnosing a failed run.
    keepLines: 500,
    errorLines: 20,
  });
  return { ...server, name };
}

export const distScript = (relative: string) => join(ROOT, 'dist', relative);

export interface RelayEnvOptions {
  dir: string;
  dcsInletUrl: string;
  ims: { url: string; clientId: string; clientSecret: string };
  extra?: Record<string, string>;
}

let overrides: Record<string, string> = {};

/** Settings given with `--relay-env=K=V,...`, applied to every relay the run starts (experiments). */
export function setRelayEnvOverrides(values: Record<string, string>): void {
  overrides = values;
}

/** The `--relay-env=NAME=VALUE,...` argument of `argv`, as settings (none when it is absent). */
export function relayEnvArgument(argv: readonly string[]): Record<string, string> {
  const given = argv.find((a) => a.startsWith('--relay-env='))?.slice('--relay-env='.length);
  return Object.fromEntries(
    (given?.split(',') ?? []).filter(Boolean).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`bench: --relay-env takes NAME=VALUE pairs, not ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** What every bench relay is given: free ports on 127.0.0.1, the samples' secret, a store, a fake Adobe. */
export function baseRelayEnv(o: { storeUrl: string; dcsInletUrl: string; ims: RelayEnvOptions['ims'] }): Record<string, string> {
  return {
    PORT: '0',
    OPS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CAPILLARY_AUTH_SECRETS: AUTH_SECRET,
    STORE_URL: o.storeUrl,
    AEP_INLET_URL: o.dcsInletUrl,
    AEP_FLOW_ID: 'bench-flow',
    AEP_EVENT_DATASET_ID: 'bench-event-dataset',
    AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/bench/schemas/experience-event',
    ADOBE_ORG_ID: 'BENCH0000000000000000000@AdobeOrg',
    ADOBE_IMS_URL: o.ims.url,
    ADOBE_CLIENT_ID: o.ims.clientId,
    ADOBE_CLIENT_SECRET: o.ims.clientSecret,
    // The bench's fake Adobe plays DCS and IMS only: no Platform API to read schemas from, and the
    // relay must never reach out to platform.adobe.io from here (bench:schema-validation measures the check).
    AEP_SCHEMA_VALIDATION: 'off',
  };
}

/** The relay's settings for the benchmark: production defaults, a fresh SQLite store in `dir`, the fake Adobe. */
export function relayEnv(o: RelayEnvOptions): Record<string, string> {
  return {
    ...baseRelayEnv({ storeUrl: `sqlite:${join(o.dir, 'relay.db')}`, dcsInletUrl: o.dcsInletUrl, ims: o.ims }),
    DRY_RUN_FILE: join(o.dir, 'dry-run.ndjson'),
    ...o.extra,
    ...overrides,
  };
}

/** The relay as `npm start` runs it (its environment and Node flags from package.json), plus `nodeArgs` (profiling). */
export function startRelay(env: Record<string, string>, nodeArgs: string[] = [], node?: string): Promise<ServerProcess> {
  return startServer('relay', distScript('src/server.js'), { ...relayStartEnv(), ...env }, { nodeArgs: [...relayNodeFlags(), ...nodeArgs], ready: relayListening, ...(node ? { node } : {}) });
}

/**
 * Another build's relay for a side-by-side run (`--before=<its dist/src/server.js>`), started by
 * default without this checkout's Node flags, which that build's package.json may not share, and
 * with its start environment (the allocator's arenas), which applies to any build alike.
 */
export function startRelayBuild(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  return startServer('relay-before', script, { ...relayStartEnv(), ...env }, { nodeArgs, ready: relayListening });
}

// ------------------------------------------------------------------ memory and CPU of a process

export interface ProcessSample {
  rssMb: number;
  hwmMb: number;
  cpuSeconds: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime is 14th, stime 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, every thread) the process has used so far, seconds; NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  return sampleProcess(pid)?.cpuSeconds ?? NaN;
}

/**
 * CPU seconds of each thread of a process by name (/proc/PID/task/TID/comm): `event loop` for the
 * main thread, `sqlite-store` and `sqlite-ckpt` for the store's threads (they name themselves),
 * and Node's own (`node`, libuv's pool, V8's platform threads) by their names. Empty once it is gone.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = Number(tid) === pid ? 'event loop' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName;
}

/** Resets VmHWM (peak RSS) of a process to its current RSS, so a peak can be read per phase. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface Monitor {
  /** Peak RSS since start (VmHWM after a reset, else the largest sample), MB. */
  peakMb(): number;
  /** Current RSS, MB. */
  currentMb(): number;
  /** CPU used since start as a share of one core (1 = one full core). */
  cpuCores(): number;
  stop(): void;
}

/** Samples a process every `everyMs`: the phase's peak RSS and CPU use. */
export function monitor(pid: number, everyMs = 200): Monitor {
  const canReset = resetPeak(pid);
  const first = sampleProcess(pid);
  const startedAt = performance.now();
  let maxRss = first?.rssMb ?? 0;
  let last = first;
  let lastAt = startedAt;
  const timer = setInterval(() => {
    const s = sampleProcess(pid);
    if (!s) return;
    last = s;
    lastAt = performance.now();
    maxRss = Math.max(maxRss, s.rssMb);
  }, everyMs);
  return {
    peakMb() {
      const s = sampleProcess(pid) ?? last;
      if (s) maxRss = Math.max(maxRss, s.rssMb);
      return canReset && s ? Math.max(maxRss, s.hwmMb) : maxRss;
    },
    currentMb() {
      return (sampleProcess(pid) ?? last)?.rssMb ?? 0;
    },
    cpuCores() {
      const s = sampleProcess(pid);
      const at = s ? performance.now() : lastAt;
      const end = s ?? last;
      if (!first || !end) return 0;
      return (end.cpuSeconds - first.cpuSeconds) / ((at - startedAt) / 1000);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
