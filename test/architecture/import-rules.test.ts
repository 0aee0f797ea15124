import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The import rules of .dependency-cruiser.cjs (no file circle, no two folders of src/ importing each
 * other), which `.ci/lint` runs on src/. Here: src/ passes, and a small tree that breaks each rule
 * fails it, so a rule that silently stopped matching would be noticed.
 */
const rules = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as { forbidden: object[]; options: object };

async function violations(root: string, cwd: string): Promise<string[]> {
  const result = await cruise([root], { ...rules.options, validate: true, ruleSet: { forbidden: rules.forbidden } as never, baseDir: cwd });
  return (result.output as ICruiseResult).summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

const fixture = mkdtempSync(join(tmpdir(), 'import-rules-'));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));
const write = (path: string, text: string) => {
  mkdirSync(join(fixture, path, '..'), { recursive: true });
  writeFileSync(join(fixture, path), text);
};

describe('import rules', () => {
  it('hold for src/', async () => {
    expect(await violations('src', process.cwd())).toEqual([]);
  });

  it('catch a file circle and a pair of folders importing each other', async () => {
    write('tsconfig.json', '{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext" } }');
    write('src/a/one.ts', "import type { Two } from './two.js';\nexport type One = Two | 1;\n");
    write('src/a/two.ts', "import type { One } from './one.js';\nexport type Two = One | 2;\n");
    write('src/b/low.ts', "import type { High } from '../c/high.js';\nexport type Low = High;\n");
    write('src/c/high.ts', "import type { Low } from '../b/low.js';\nexport type High = Low | 3;\n");
    const found = await violations('src', fixture);
    expect(found).toContain('no-file-circle: src/a/one.ts -> src/a/two.ts');
    expect(found.some((v) => v.startsWith('no-folders-importing-each-other: src/b'))).toBe(true);
  });
});
