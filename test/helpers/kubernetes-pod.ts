import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { kustomizeVersion, render, targetDirs, type ManifestObject, type Target } from '../../deploy/kubernetes/validate.js';

/**
 * deploy/kubernetes as the kubelet would run it, without a cluster: the rendered objects, a
 * container's environment (the image's ENV, then the ConfigMaps, then `env`), and its volumes laid
 * out in a temp folder (ConfigMap and Secret volumes written the kubelet's way, by swapping a
 * `..data` symlink), with every in-pod path in that environment moved under the folder.
 */

const root = join(import.meta.dirname, '..', '..');

/**
 * A value made on first use, for what every test of a file needs: if making it throws (kubectl
 * missing), each test fails with that error, where a failing beforeAll would mark them skipped.
 */
export function lazily<T>(make: () => T): () => T {
  let made: { value: T } | { error: unknown } | undefined;
  return () => {
    if (!made) {
      try {
        made = { value: make() };
      } catch (error) {
        made = { error };
      }
    }
    if ('error' in made) throw made.error;
    return made.value;
  };
}

/** Every overlay and example, rendered by kubectl; throws what to install when kubectl is missing. */
export function renderTargets(): Target[] {
  kustomizeVersion();
  return targetDirs().map(render);
}

/** One overlay or example (e.g. `sqlite-with-components`), rendered alone. */
export function renderTarget(name: string): Target {
  kustomizeVersion();
  const dir = targetDirs().find((d) => d.endsWith(`/${name}`));
  if (!dir) throw new Error(`no overlay or example named ${name} under deploy/kubernetes`);
  return render(dir);
}

export function targetNamed(targets: Target[], name: string): Target {
  const found = targets.find((t) => t.name.endsWith(`/${name}`));
  if (!found) throw new Error(`no rendered target ${name}`);
  return found;
}

export const objectsOf = (target: Target, kind: string) => target.objects.filter((o) => o.kind === kind);

export interface Workload {
  kind: string;
  name: string;
  spec: { replicas?: number; podManagementPolicy?: string; updateStrategy?: { type?: string }; volumeClaimTemplates?: { metadata?: { name?: string }; spec?: { resources?: { requests?: { storage?: string } } } }[] };
  pod: IPodSpec;
  labels: Record<string, string>;
}

/** The one Deployment or StatefulSet of a target. */
export function workloadOf(target: Target): Workload {
  const found = target.objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  if (found.length !== 1) throw new Error(`${target.name}: ${found.length} workloads, expected 1`);
  const object = found[0] as ManifestObject & { spec: Workload['spec'] & { template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } } };
  return { kind: String(object.kind), name: String(object.metadata?.name), spec: object.spec, pod: object.spec.template.spec, labels: object.spec.template.metadata.labels };
}

export function containerOf(pod: IPodSpec, name: string): IContainer {
  const found = pod.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/** The runtime stage's ENV of the Dockerfile: what the container has before the pod's variables. */
export function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, name, value] of line.slice(4).matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[name!] = value!;
  }
  return env;
}

const configMapData = (target: Target, name: string): Record<string, string> => {
  const map = objectsOf(target, 'ConfigMap').find((o) => o.metadata?.name === name);
  if (!map) throw new Error(`${target.name}: no ConfigMap ${name}`);
  return (map['data'] as Record<string, string> | undefined) ?? {};
};

/** The names and values a container's envFrom and env set, in the kubelet's order (later wins). */
export function podVariables(target: Target, container: IContainer, secretValues: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ref of container.envFrom ?? []) if (ref.configMapRef?.name) Object.assign(env, configMapData(target, ref.configMapRef.name));
  for (const variable of container.env ?? []) {
    const secret = variable.valueFrom?.secretKeyRef;
    env[variable.name] = variable.value ?? (secret ? (secretValues[`${secret.name}/${secret.key}`] ?? `<secret ${secret.name}/${secret.key}>`) : '');
  }
  return env;
}

/** A value for each secret key the manifests mount, long enough for the relay's minimums. */
export function secretSample(key: string): string {
  if (key.includes('admin-token')) return 'k8s-test-admin-token-0123456789abcdef';
  if (key.includes('capillary-auth-secrets')) return `k8s-test-webhook-${key}`;
  return `k8s-test-secret-${key}`;
}

/** Writes a volume's files as the kubelet does: a fresh folder, then `..data` swapped to it at once. */
export function writeVolume(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const previous = existsSync(join(dir, '..data')) ? readdirSync(dir).filter((n) => n.startsWith('..20')) : [];
  const stamp = `..20${Date.now()}.${process.hrtime.bigint()}`;
  mkdirSync(join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, stamp, name), text);
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  for (const old of previous) rmSync(join(dir, old), { recursive: true, force: true });
}

export interface PodFiles {
  root: string;
  /** An in-pod path (or a value holding one, e.g. sqlite:/data/relay.db) moved under root. */
  remap(value: string): string;
  /** The host folder of a volume mount of the container. */
  hostDir(volumeName: string): string;
  /** The container's environment: the image's, then the pod's, with every in-pod path remapped. */
  env: Record<string, string>;
  close(): void;
}

/**
 * Lays out a container's volumes under a temp folder. Secret volumes get secretSample() values:
 * for each item listed, or (a secret mounted whole) for each file under it that the environment
 * or a mounted ConfigMap names. Optional secret sources are left out: that is the install where
 * they were not created.
 */
export function layOutPod(target: Target, containerName: string, secretValues: Record<string, string> = {}): PodFiles {
  const pod = workloadOf(target).pod;
  const container = containerOf(pod, containerName);
  const dir = mkdtempSync(join(tmpdir(), 'k8s-pod-'));
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(?<=^|[\\s:"'=])(${mounts.map((m) => escape(m.mountPath)).join('|')})(?=/|$|[\\s"'])`, 'gm');
  const remap = (value: string) => value.replace(pattern, (path) => join(dir, path));
  const hostDir = (volumeName: string) => {
    const mount = mounts.find((m) => m.name === volumeName);
    if (!mount) throw new Error(`container ${containerName} does not mount ${volumeName}`);
    return join(dir, mount.mountPath);
  };
  const env = Object.fromEntries(Object.entries({ ...imageEnv(), ...podVariables(target, container, secretValues) }).map(([k, v]) => [k, remap(v)]));

  const texts: string[] = Object.values(env);
  const wholeSecrets: string[] = [];
  for (const mount of mounts) {
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    const files: Record<string, string> = {};
    if (volume?.configMap) {
      for (const [key, text] of Object.entries(configMapData(target, volume.configMap.name!))) files[key] = remap(text);
      texts.push(...Object.values(files));
    }
    for (const source of volume?.projected?.sources ?? []) {
      if (source.secret?.optional) continue;
      for (const item of source.secret?.items ?? []) files[item.path] = secretSample(item.key);
    }
    for (const item of volume?.secret?.items ?? []) files[item.path] = secretSample(item.key);
    if (volume?.secret && !volume.secret.items) {
      wholeSecrets.push(join(dir, mount.mountPath));
      continue;
    }
    if (volume?.configMap || volume?.projected || volume?.secret) writeVolume(join(dir, mount.mountPath), files);
    else mkdirSync(join(dir, mount.mountPath), { recursive: true });
  }
  for (const secretDir of wholeSecrets) {
    const names = texts.flatMap((text) => [...text.matchAll(new RegExp(`${escape(secretDir)}/([\\w.-]+)`, 'g'))].map((m) => m[1]!));
    writeVolume(secretDir, Object.fromEntries(names.map((name) => [name, secretSample(name)])));
  }
  return { root: dir, remap, hostDir, env, close: () => rmSync(dir, { recursive: true, force: true }) };
}
