// Run before `npm start` and `npm test` (package.json prestart, pretest): on a Node older than
// package.json's engines.node, say so in one line and stop, instead of crashing deep inside a
// dependency (better-sqlite3 13 segfaults on Node 20; undici 8 and OpenTelemetry 3 need Node 22+).
//
// Plain JavaScript with no syntax newer than ES2017, so the Nodes it rejects can run it.
//
// Usage: node scripts/check-node.mjs [version]   (version defaults to this Node's; the argument is
// for the test, test/scripts/check-node.test.ts)
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const range = pkg.engines && pkg.engines.node;
// Only ">=X", ">=X.Y" or ">=X.Y.Z": the one form engines.node takes here, so no semver library.
const wanted = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(range).trim());
if (!wanted) {
  console.error(`check-node: package.json engines.node is "${range}"; this check understands only ">=X.Y.Z"`);
  process.exit(2);
}
const actual = process.argv[2] || process.version;
const found = /^v?(\d+)\.(\d+)\.(\d+)/.exec(actual);
if (!found) {
  console.error(`check-node: cannot read the Node version "${actual}"`);
  process.exit(2);
}

const min = [1, 2, 3].map((i) => Number(wanted[i] || 0));
const have = [1, 2, 3].map((i) => Number(found[i]));
const diff = have.map((n, i) => n - min[i]).find((d) => d !== 0) || 0;
if (diff < 0) {
  const major = min[0];
  console.error(
    `${pkg.name} needs Node ${range}; this is v${have.join('.')}.\n` +
      `Install Node ${major} (https://nodejs.org/en/download, or \`nvm install ${major}\`), then reinstall the ` +
      `dependencies with it (\`rm -rf node_modules && npm ci\`) so better-sqlite3 is built for that Node.`,
  );
  process.exit(1);
}
