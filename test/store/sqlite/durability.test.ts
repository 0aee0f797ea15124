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
const root = join(import.meta.dirname, '..', '..', '..');
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

/** WAL syncs of a child that prunes `count` delivered events, counted after its PRUNE marker. */
function pruneWalSyncs(count: number): number {
  const trace = join(dir, 'prune.strace');
  execFileSync(
    'strace',
    ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync,write', '-o', trace, process.execPath, '--import', 'tsx', join(root, 'test', 'helpers', 'prune-events.ts'), join(dir, 'prune.db'), String(count)],
    { cwd: root, stdio: 'pipe' },
  );
  const lines = readFileSync(trace, 'utf8').split('\n');
  const marker = lines.findIndex((line) => line.includes('PRUNE\\n'));
  expect(marker).toBeGreaterThan(0);
  return lines.slice(marker).filter((line) => /sync\(\d+<[^>]*\.db-wal>\)/.test(line)).length;
}

describe('SQLite durability', () => {
  it('a prune fsyncs each of its chunks, so the webhook commits after it do not carry its writes', () => {
    // 3,000 events: at least 6 chunks of messages and 6 of events (chunks start at 100 rows, at most
    // doubling). A chunk that skipped its fsync left its pages to the next webhook commit's fsync
    // (bench, 1,000,000-row prune: webhook p99 128 ms unsynced, 23 ms synced).
    expect(pruneWalSyncs(3_000)).toBeGreaterThanOrEqual(12);
  });

  it('with synchronous=full every webhook commit fsyncs the WAL; with normal they do not', () => {
    const full = walSyncs('full');
    const normal = walSyncs('normal');
    expect(full).toBeGreaterThanOrEqual(COMMITS);
    expect(normal).toBeLessThan(COMMITS / 2);
  });
});
