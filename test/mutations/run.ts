/**
 * `npm run test:mutations`: applies each deliberate fault of mutations.ts to a copy of the project
 * and runs the tests that should catch it. Prints a table (mutation | killed by | time) and exits
 * non-zero when a mutation survives, when a mutation no longer applies, or when the tests fail on
 * the unmutated copy (a baseline that fails would make every mutation look killed).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { MUTATIONS, type Mutation } from './mutations.js';

const root = join(import.meta.dirname, '..', '..');
const copy = mkdtempSync(join(tmpdir(), 'relay-mutations-'));
for (const entry of ['src', 'test', 'bench', 'support', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'vitest.config.ts']) {
  if (existsSync(join(root, entry))) cpSync(join(root, entry), join(copy, entry), { recursive: true });
}
symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');

interface Run {
  passed: boolean;
  failed: string[];
  seconds: number;
}

/** Runs vitest on `files` in the copy; `failed` names the failing tests (file > test). */
function runTests(files: string[]): Run {
  const report = join(copy, 'vitest-report.json');
  rmSync(report, { force: true });
  const started = performance.now();
  const result = spawnSync(process.execPath, [join(copy, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=json', `--outputFile=${report}`, ...files], {
    cwd: copy,
    env: process.env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const failed: string[] = [];
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      testResults: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string }[] }[];
    };
    for (const file of json.testResults) {
      const name = relative(copy, file.name);
      const tests = file.assertionResults.filter((t) => t.status === 'failed');
      for (const t of tests) failed.push(`${name} > ${t.fullName}`);
      if (tests.length === 0 && file.status === 'failed') failed.push(`${name} (${(file.message ?? 'failed').split('\n')[0]})`);
    }
  }
  if (result.status !== 0 && failed.length === 0) failed.push(`vitest exited ${result.status ?? result.signal}: ${(result.stderr || result.stdout).slice(-300)}`);
  return { passed: result.status === 0, failed, seconds };
}

/** "dcs-client.test.ts (5 tests), fault-injection.test.ts (1 test)": which files caught it, how often. */
function byFile(failed: string[]): string {
  const counts = new Map<string, number>();
  for (const f of failed) {
    const file = f.split(' > ')[0]!.replace(/^test\//, '');
    counts.set(file, (counts.get(file) ?? 0) + 1);
  }
  return [...counts].map(([file, n]) => `${file} (${n} test${n === 1 ? '' : 's'})`).join(', ');
}

function apply(mutation: Mutation): () => void {
  const originals = new Map<string, string>();
  for (const edit of mutation.edits) {
    const path = join(copy, edit.file);
    const text = readFileSync(path, 'utf8');
    if (!originals.has(path)) originals.set(path, text);
    const occurrences = text.split(edit.find).length - 1;
    if (occurrences !== 1) throw new Error(`mutation "${mutation.name}": expected the text once in ${edit.file}, found it ${occurrences} times:\n${edit.find}`);
    writeFileSync(path, text.replace(edit.find, () => edit.replace));
  }
  return () => {
    for (const [path, text] of originals) writeFileSync(path, text);
  };
}

const rows: { mutation: string; killedBy: string; seconds: number; survived: boolean }[] = [];
let exitCode = 0;
try {
  const allTests = [...new Set(MUTATIONS.flatMap((m) => m.tests))];
  const baseline = runTests(allTests);
  rows.push({ mutation: '(none: baseline)', killedBy: baseline.passed ? 'all pass' : `FAILS: ${baseline.failed.join('; ')}`, seconds: baseline.seconds, survived: !baseline.passed });
  if (!baseline.passed) exitCode = 1;
  else {
    for (const mutation of MUTATIONS) {
      let restore: () => void = () => undefined;
      try {
        restore = apply(mutation);
        const run = runTests(mutation.tests);
        rows.push({ mutation: mutation.name, killedBy: run.passed ? 'SURVIVED' : byFile(run.failed), seconds: run.seconds, survived: run.passed });
        if (run.passed) exitCode = 1;
      } catch (error) {
        rows.push({ mutation: mutation.name, killedBy: `NOT APPLIED: ${(error as Error).message.split('\n')[0]}`, seconds: 0, survived: true });
        exitCode = 1;
      } finally {
        restore();
      }
    }
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
console.log('| mutation | killed by | time |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.mutation} | ${clip(r.killedBy, 160)} | ${r.seconds.toFixed(1)} s |`);
const survivors = rows.filter((r) => r.survived && r.mutation !== '(none: baseline)').length;
console.log(exitCode === 0 ? `\nall ${MUTATIONS.length} mutations killed` : `\nFAILED: ${survivors} mutation(s) survived or did not apply, or the baseline failed`);
process.exit(exitCode);
