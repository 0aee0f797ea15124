import { join } from 'node:path';
import { check, type Diagnostics } from 'recheck';
import { describe, expect, it } from 'vitest';
import { scanSource, scanTree, type FoundRegex } from './regex-sources.js';

/**
 * Issue 10, item 5: every regular expression in src/ runs in linear time, checked by recheck
 * (automata theory where it applies, fuzzing with a fixed seed otherwise), not by eye. A regex that
 * recheck cannot decide fails too: it has to be rewritten until it can be proven.
 */
const ROOT = join(import.meta.dirname, '..', '..');
// A fixed seed keeps the fuzzing checker's verdicts the same on every run; the generous timeout
// keeps a busy machine from turning "safe" into "unknown".
const RECHECK_PARAMS = { randomSeed: 20_260_510, timeout: 60_000 } as const;

/** `safe`, or what is wrong and the attack string recheck built, so a failure explains itself. */
function verdict(diagnostics: Diagnostics): string {
  if (diagnostics.status === 'safe') return 'safe';
  if (diagnostics.status === 'unknown') return `unknown (${diagnostics.error.kind})`;
  const { complexity, attack } = diagnostics;
  const degree = complexity.type === 'polynomial' ? ` of degree ${complexity.degree}` : '';
  return `vulnerable: ${complexity.type}${degree}, attack ${attack.pattern}`;
}

const checkRegex = async (regex: FoundRegex) => verdict(await check(regex.source, regex.flags, RECHECK_PARAMS));

const scan = scanTree(ROOT, 'src');

describe('regular expressions in src/', () => {
  it('are found by parsing every source file, and none is built from anything but literals', () => {
    // A scan that silently found nothing would pass every check below.
    expect(scan.found.length).toBeGreaterThanOrEqual(20);
    expect(scan.found).toContainEqual(expect.objectContaining({ where: expect.stringMatching(/^src\/mapping\/values\.ts:/), kind: 'literal' }));
    expect(scan.found).toContainEqual(expect.objectContaining({ where: expect.stringMatching(/^src\/ingest\/envelope\.ts:/), kind: 'schema pattern' }));
    expect(scan.uncheckable).toEqual([]);
  });

  it.each(scan.found.map((regex) => [`${regex.where} /${regex.source}/${regex.flags}`, regex] as const))(
    '%s runs in linear time',
    async (_name, regex) => {
      expect(await checkRegex(regex)).toBe('safe');
    },
    120_000,
  );
});

describe('the check itself', () => {
  // Shapes this project had or could plausibly add, each written the way the scan must find it.
  const KNOWN_BAD = String.raw`
    const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
    const path = url.pathname.replace(/\/+$/, '');
    const nested = new RegExp('^(a+)+$');
    const Id = Type.String({ pattern: '^(\\w+\\s?)*$' });
    const found = text.match('(x+x+)+y');
  `;

  it('finds each regex form and fails every known-vulnerable one', async () => {
    const { found, uncheckable } = scanSource('known-bad.ts', KNOWN_BAD);
    expect(found.map((regex) => regex.kind)).toEqual(['literal', 'literal', 'RegExp()', 'schema pattern', 'string method']);
    expect(uncheckable).toEqual([]);
    const verdicts = await Promise.all(found.map(checkRegex));
    expect(verdicts.map((v) => v.replace(/, attack .*$/, ''))).toEqual([
      'vulnerable: polynomial of degree 2',
      'vulnerable: polynomial of degree 2',
      'vulnerable: exponential',
      'vulnerable: exponential',
      'vulnerable: exponential',
    ]);
  }, 120_000);

  it('reports a regex built at run time as uncheckable', () => {
    const { found, uncheckable } = scanSource('dynamic.ts', 'const re = new RegExp(`^${prefix}\\d+$`);');
    expect(found).toEqual([]);
    expect(uncheckable).toEqual([{ where: 'dynamic.ts:1', code: 'new RegExp(`^${prefix}\\d+$`)' }]);
  });
});
