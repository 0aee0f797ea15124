import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * STORE_SYNCHRONOUS=full promises that a 202 survives a power cut: every webhook commit fsyncs the
 * WAL before the answer. Nothing inside the process can see an fsync, so the child committing is
 * run under strace and its syncs of the -wal file are counted (CI installs strace; without it this
 * test fails, it does not skip).
 */
const COMMITS = 20;
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'relay-durable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function walSyncs(synchronous: 'full' | 'normal'): number {
  const trace = join(dir, `${synchronous}.strace`);
  execFileSync(
    'strace',
    ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, '--import', 'tsx', join(root, 'test', 'helpers', 'commit-events.ts'), join(dir, `${synchronous}.db`), synchronous, String(COMMITS)],
    { cwd: root, stdio: 'pipe' },
  );
  return readFileSync(trace, 'utf8').split('\n').filter((line) => /sync\(\d+<[^>]*\.db-wal>\)/.test(line)).length;
}

describe('SQLite durability', () => {
  it('with synchronous=full every webhook commit fsyncs the WAL; with normal they do not', () => {
    const full = walSyncs('full');
    const normal = walSyncs('normal');
    expect(full).toBeGreaterThanOrEqual(COMMITS);
    expect(normal).toBeLessThan(COMMITS / 2);
  });
});
