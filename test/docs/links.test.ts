import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README is a front page that sends readers into docs/, and the pages link to each other and to
 * the code. A moved file or a renamed heading breaks those links silently (GitHub renders a dead link
 * or lands at the top of the page), so every relative link of README.md and docs/*.md must name a file
 * or folder that exists, and its `#anchor`, into a markdown file, a heading of that file.
 */

const root = join(import.meta.dirname, '..', '..');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

interface Link {
  line: number;
  target: string;
}

/** The text outside fenced code blocks, line by line (blank in their place, so line numbers hold). */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const opening = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined) {
      if (opening) fence = opening[1]!;
      return fence === undefined ? line : '';
    }
    if (opening && opening[1]![0] === fence[0] && opening[1]!.length >= fence.length && line.trim() === opening[1]) fence = undefined;
    return '';
  });
}

/** A line with its inline code spans emptied: a link written inside backticks is no link. */
const withoutCodeSpans = (line: string) => line.replace(/(`+)[^`]*?\1/g, '');

/** Inline links and images `[text](target "title")`, and reference definitions `[label]: target`. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((raw, index) => {
    const line = withoutCodeSpans(raw);
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: m[1]!.replace(/^<|>$/g, '') });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s+(\S+)/.exec(line);
    if (definition) links.push({ line: index + 1, target: definition[1]! });
  });
  return links;
}

/** GitHub's anchor for a heading: lower-case, punctuation other than '-' and '_' dropped, each space a '-'. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading anchors on its text
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** The anchors of a markdown file's ATX headings; a repeated heading gets -1, -2... as on GitHub. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const external = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** What is wrong with each relative link of one page, as `page:line target: reason`. */
function brokenLinks(page: string, markdown: string, readPage: (path: string) => string): string[] {
  const problems: string[] = [];
  for (const { line, target } of linksOf(markdown)) {
    if (external(target)) continue;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${page}:${line} ${target}`;
    const file = join(root, dirname(page), pathPart);
    if (pathPart === '') {
      if (anchor !== undefined && !anchorsOf(markdown).has(anchor)) problems.push(`${where}: no heading with the anchor #${anchor}`);
      continue;
    }
    if (relative(root, file).startsWith('..')) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    if (!existsSync(file)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined || !file.endsWith('.md') || statSync(file).isDirectory()) continue;
    if (!anchorsOf(readPage(file)).has(anchor)) problems.push(`${where}: no heading with the anchor #${anchor}`);
  }
  return problems;
}

const readPage = (path: string) => readFileSync(path, 'utf8');

describe('the link check itself', () => {
  it('makes GitHub anchors', () => {
    expect(slug('Observability: traces')).toBe('observability-traces');
    expect(slug('Durability: what "committed" means')).toBe('durability-what-committed-means');
    expect(slug('Behind a load balancer: `TRUST_PROXY`')).toBe('behind-a-load-balancer-trust_proxy');
    expect(slug('Tenant fields: `_<tenant>.capillary`')).toBe('tenant-fields-_tenantcapillary');
    expect(slug('`xdm`, `source` and `raw` compared')).toBe('xdm-source-and-raw-compared');
    expect(slug('1. Set up the source in AEP')).toBe('1-set-up-the-source-in-aep');
    expect([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n### B ##\n')]).toEqual(['a', 'a-1', 'b']);
  });

  it('finds links outside code and flags missing files and anchors', () => {
    const sample = [
      '[ok](README.md) and ![img](docs/console/overview.png "title") and [`code`](docs/)',
      '`[not a link](nowhere.md)`',
      '```',
      '[not a link either](nowhere.md)',
      '```',
      '[gone](docs/nowhere.md) [bad anchor](README.md#no-such-heading) [good anchor](README.md#quick-start)',
      '[self](#self) [not self](#nowhere) [web](https://example.com/x.md#y) [up](../outside.md)',
      '[ref]: docs/missing.md',
      '## Self',
    ].join('\n');
    expect(linksOf(sample).map((l) => l.target)).toEqual([
      'README.md',
      'docs/console/overview.png',
      'docs/',
      'docs/nowhere.md',
      'README.md#no-such-heading',
      'README.md#quick-start',
      '#self',
      '#nowhere',
      'https://example.com/x.md#y',
      '../outside.md',
      'docs/missing.md',
    ]);
    expect(brokenLinks('sample.md', sample, readPage)).toEqual([
      'sample.md:6 docs/nowhere.md: no such file',
      'sample.md:6 README.md#no-such-heading: no heading with the anchor #no-such-heading',
      'sample.md:7 #nowhere: no heading with the anchor #nowhere',
      'sample.md:7 ../outside.md: points outside the repository',
      'sample.md:8 docs/missing.md: no such file',
    ]);
  });
});

describe('links in README.md and docs/*.md', () => {
  it('reads the pages it should, and finds their links', () => {
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'docs/configuration.md', 'docs/operations.md', 'docs/mapping.md', 'docs/runbook.md']));
    expect(linksOf(readPage(join(root, 'README.md'))).length).toBeGreaterThan(20);
  });

  it.each(pages)('%s: every relative link names a file that exists, and a heading of it', (page) => {
    const markdown = readPage(join(root, page));
    expect(brokenLinks(page, markdown, readPage)).toEqual([]);
  });
});
