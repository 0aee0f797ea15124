import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { referenceProblems } from './validate-references.js';
import { schemaProblems, type ManifestObject } from './validate-schema.js';

/**
 * Renders every kustomization a user applies (overlays/*, and examples/*: the overlays with the
 * optional components) with `kubectl kustomize`, and checks each object offline: against the
 * Kubernetes API schemas (kubernetes-models; the ServiceMonitor against the Prometheus
 * Operator's), for fields no schema knows, and for names that point at nothing.
 * `npx tsx deploy/kubernetes/validate.ts` (run by .ci/lint); test/deploy/kubernetes.test.ts too.
 */

export const KUBERNETES_DIR = import.meta.dirname;
const ROOT = join(KUBERNETES_DIR, '..', '..');
/** Components (Kustomize v3.7+) and patches that change a kind need Kustomize 5 (kubectl 1.27+). */
const MIN_KUSTOMIZE_MAJOR = 5;

export type { ManifestObject } from './validate-schema.js';

export interface Target {
  /** The kustomization's folder, relative to the repository (e.g. deploy/kubernetes/overlays/sqlite). */
  name: string;
  objects: ManifestObject[];
}

/** Every kustomization under overlays/ and examples/, so a new one is validated without listing it. */
export function targetDirs(): string[] {
  return ['overlays', 'examples'].flatMap((group) => {
    const dir = join(KUBERNETES_DIR, group);
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'kustomization.yaml')))
      .map((entry) => join(dir, entry.name))
      .sort();
  });
}

/** kubectl's Kustomize version, or an error that says what to install. */
export function kustomizeVersion(): string {
  let output: string;
  try {
    output = execFileSync('kubectl', ['version', '--client', '--output=json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'kubectl is not installed (or not on PATH): it renders deploy/kubernetes with its built-in Kustomize. Install kubectl 1.27 or newer (https://kubernetes.io/docs/tasks/tools/); 1.32 is what CI used.'
        : `kubectl version failed: ${(error as Error).message}`,
    );
  }
  const version = (JSON.parse(output) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? 0);
  if (major < MIN_KUSTOMIZE_MAJOR) throw new Error(`kubectl's Kustomize is ${version || 'unknown'}; deploy/kubernetes needs Kustomize ${MIN_KUSTOMIZE_MAJOR} or newer (kubectl 1.27+)`);
  return version;
}

/** `kubectl kustomize <dir>`, parsed: the objects `kubectl apply -k <dir>` would send. */
export function render(dir: string): Target {
  const name = relative(ROOT, dir);
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${name}: kubectl kustomize failed: ${stderr || (error as Error).message}`);
  }
  const objects = parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${name}: the rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as ManifestObject | null;
    return value ? [value] : [];
  });
  return { name, objects };
}

/** Everything wrong with one rendered manifest; empty when it is valid. */
export function manifestProblems(objects: ManifestObject[]): string[] {
  return [...schemaProblems(objects), ...referenceProblems(objects)];
}

function main(): number {
  let failed = false;
  try {
    console.log(`kubernetes: kubectl with Kustomize ${kustomizeVersion()}`);
    for (const dir of targetDirs()) {
      const target = render(dir);
      const problems = manifestProblems(target.objects);
      const kinds = target.objects.map((o) => String(o.kind)).join(', ');
      if (problems.length === 0) {
        console.log(`kubernetes: ${target.name}: ${target.objects.length} objects valid (${kinds})`);
        continue;
      }
      failed = true;
      console.error(`kubernetes: ${target.name}: ${problems.length} problem(s):`);
      for (const problem of problems) console.error(`  ${problem}`);
    }
  } catch (error) {
    console.error(`kubernetes: ${(error as Error).message}`);
    return 1;
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
