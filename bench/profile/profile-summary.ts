/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package, and
 * inclusive time of the relay's own functions. Used by run.ts; also a CLI:
 *   node dist/bench/profile/profile-summary.js <file.cpuprofile> [top]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from '../../support/repo-root.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  group: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** Time the main thread was busy (not idle), ms. */
  busyMs: number;
  idleShare: number;
  topSelf: ProfileRow[];
  byGroup: Array<{ group: string; ms: number; share: number }>;
  /** Inclusive time of the relay's own functions (src/), of busy time. */
  topInclusiveOwn: ProfileRow[];
  /** Gaps of at least STALL_MS between samples: the main thread blocked (fsync, long GC), by where. */
  stalls: { count: number; ms: number; longestMs: number; at: Array<{ where: string; count: number; ms: number }> };
}

const STALL_MS = 10;
const STALL_US = STALL_MS * 1000;

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

const sourceMaps = new Map<string, SourceMap | undefined>();

/** The TypeScript line of a compiled dist/ location (tsc writes source maps), 1-based. */
function originalLine(jsPath: string, line: number, column: number): number | undefined {
  if (!sourceMaps.has(jsPath)) {
    const mapFile = `${jsPath}.map`;
    sourceMaps.set(jsPath, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : undefined);
  }
  const entry = sourceMaps.get(jsPath)?.findEntry(line, column) as { originalLine?: number } | undefined;
  return entry?.originalLine === undefined ? undefined : entry.originalLine + 1;
}

function locate(url: string, line: number, column: number): { where: string; group: string } {
  if (url === '') return { where: '', group: 'V8/native' };
  const absolute = url.startsWith('file://') ? fileURLToPath(url) : url;
  let path = absolute;
  if (path.startsWith('node:')) return { where: `${path}:${line + 1}`, group: 'node core' };
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = path.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    return { where: `${rest}:${line + 1}`, group: pkg };
  }
  if (path.startsWith(ROOT)) path = path.slice(ROOT.length + 1);
  const own = /^dist\/(src|bench)\/(.*)\.js$/.exec(path);
  if (own) {
    const file = `${own[1]}/${own[2]}.ts`;
    const dir = own[2]!.includes('/') ? own[2]!.split('/')[0] : own[2];
    const tsLine = originalLine(absolute, line, column);
    return { where: tsLine === undefined ? `${file} (js line ${line + 1})` : `${file}:${tsLine}`, group: `relay ${own[1]}/${dir}` };
  }
  return { where: `${path}:${line + 1}`, group: 'other' };
}

/** `skipFirstMs`: leave out the process's start-up (module loading, migrations) before the load began. */
export function summarizeProfile(file: string, top = 20, skipFirstMs = 0): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = (node: CpuProfileNode) => {
    const f = node.callFrame;
    const name = f.functionName || '(anonymous)';
    return SPECIAL.has(name) ? name : `${name}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`;
  };

  /** The blocked function and the nearest relay function above it: `sqliteTransaction <- flush (src/...:NN)`. */
  const stallSite = (node: CpuProfileNode): string => {
    const leaf = node.callFrame.functionName || '(anonymous)';
    for (let id = parent.get(node.id); id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const at = f.url === '' ? undefined : locate(f.url, f.lineNumber, f.columnNumber);
      if (at?.group.startsWith('relay src')) return `\`${leaf}\` in \`${f.functionName || '(anonymous)'}\` (${at.where})`;
    }
    return `\`${leaf}\``;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let elapsedUs = 0;
  const stallAt = new Map<string, { count: number; us: number }>();
  let stallCount = 0;
  let stallUs = 0;
  let longestStallUs = 0;
  // timeDeltas[i] is the time up to samples[i], charged to samples[i]: when the main thread blocks in
  // a system call (fsync), the profiler's signal is handled only when the call returns, so the sample
  // closing a long gap shows the function that blocked.
  for (let i = 0; i < profile.samples.length; i += 1) {
    const us = profile.timeDeltas[i] ?? 0;
    elapsedUs += us;
    if (elapsedUs < skipFirstMs * 1000) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    total += us;
    const key = keyOf(node);
    if (key === '(idle)') {
      idle += us;
      continue;
    }
    self.set(key, (self.get(key) ?? 0) + us);
    if (us >= STALL_US) {
      stallCount += 1;
      stallUs += us;
      longestStallUs = Math.max(longestStallUs, us);
      const where = stallSite(node);
      const entry = stallAt.get(where) ?? { count: 0, us: 0 };
      entry.count += 1;
      entry.us += us;
      stallAt.set(where, entry);
    }
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const describe = (key: string, us: number): ProfileRow => {
    const [name, url, line, column] = key.split('\u0000');
    const { where, group } = url === undefined ? { where: '', group: name === '(garbage collector)' ? 'GC' : 'V8/native' } : locate(url, Number(line), Number(column));
    return { name: name!, where, group, ms: us / 1000, share: busy > 0 ? us / busy : 0 };
  };
  const rows = [...self.entries()].map(([k, us]) => describe(k, us)).sort((a, b) => b.ms - a.ms);
  const groups = new Map<string, number>();
  for (const r of rows) groups.set(r.group, (groups.get(r.group) ?? 0) + r.ms);
  const topInclusiveOwn = [...inclusive.entries()]
    .map(([k, us]) => describe(k, us))
    .filter((r) => r.group.startsWith('relay src'))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
  return {
    file,
    wallMs: total / 1000,
    busyMs: busy / 1000,
    idleShare: total > 0 ? idle / total : 0,
    topSelf: rows.slice(0, top),
    byGroup: [...groups.entries()].map(([group, ms]) => ({ group, ms, share: busy > 0 ? (ms * 1000) / busy : 0 })).sort((a, b) => b.ms - a.ms),
    topInclusiveOwn,
    stalls: {
      count: stallCount,
      ms: stallUs / 1000,
      longestMs: longestStallUs / 1000,
      at: [...stallAt.entries()].map(([where, e]) => ({ where, count: e.count, ms: e.us / 1000 })).sort((a, b) => b.ms - a.ms).slice(0, 6),
    },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function profileMarkdown(title: string, s: ProfileSummary, top = 15, thread = 'main thread'): string {
  const lines = [
    `#### ${title}`,
    '',
    `${(s.wallMs / 1000).toFixed(1)} s profiled, ${thread} not idle ${(s.busyMs / 1000).toFixed(1)} s (idle ${pct(s.idleShare)}); "not idle" includes time blocked in system calls such as fsync, which the profiler charges to the JS function that made the call. Shares are of that time.`,
    '',
    '| # | self time | share | function | where |',
    '| ---: | ---: | ---: | --- | --- |',
    ...s.topSelf.slice(0, top).map((r, i) => `| ${i + 1} | ${r.ms.toFixed(0)} ms | ${pct(r.share)} | \`${r.name}\` | ${r.where || r.group} |`),
    '',
    'By package (self time): ' + s.byGroup.slice(0, 12).map((g) => `${g.group} ${pct(g.share)}`).join(', ') + '.',
    '',
    `${thread[0]!.toUpperCase()}${thread.slice(1)} stalls (${STALL_MS} ms or more without a sample): ${s.stalls.count}, ${s.stalls.ms.toFixed(0)} ms in all (${pct(s.busyMs > 0 ? s.stalls.ms / s.busyMs : 0)}), longest ${s.stalls.longestMs.toFixed(0)} ms` +
      (s.stalls.at.length ? '; at ' + s.stalls.at.map((a) => `${a.where} ×${a.count} (${a.ms.toFixed(0)} ms)`).join(', ') : '') +
      '.',
    '',
    'Relay functions by inclusive time: ' + s.topInclusiveOwn.slice(0, 12).map((r) => `\`${r.name}\` (${r.where}) ${pct(r.share)}`).join(', ') + '.',
    '',
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile/profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(profileMarkdown(file, summarizeProfile(file, Number(process.argv[3] ?? 25)), Number(process.argv[3] ?? 25)));
}
