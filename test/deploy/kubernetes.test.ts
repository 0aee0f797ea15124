import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Target } from '../../deploy/kubernetes/validate.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { EnvSchema, ROUTE_SETTINGS, SECRET_VARIABLES } from '../../src/config/env-schema.js';
import { LOW_ROOM_BYTES } from '../../src/store/sqlite/checkpointer.js';
import { OTEL_VARIABLES } from '../../src/tracing/tracing-env.js';
import { relayNodeFlags } from '../../support/relay-node-flags.js';
import { containerOf, lazily, layOutPod, objectsOf, podVariables, renderTargets, workloadOf, type PodFiles } from '../helpers/kubernetes-pod.js';

/**
 * The manifests of deploy/kubernetes against the code they run: variable names, ports, probe
 * paths, the shutdown arithmetic, the image's user and Node flags, the sizing against the bench,
 * and the store each overlay promises. Each rendered environment must load with the relay's own
 * loadConfig, its secret files where the volumes put them. The probes and the routes reload are
 * exercised on a running relay in kubernetes-routes-reload.test.ts.
 */

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const POSTGRES_URL = 'postgres://relay:secret@postgres:5432/relay';
const secretValues = { 'capillary-aep-relay-postgres/url': POSTGRES_URL };

/** Every variable the relay reads: its schema, the secrets' *_FILE forms, the OpenTelemetry ones. */
const KNOWN = new Set([...Object.keys(EnvSchema.properties), ...SECRET_VARIABLES.map((n) => `${n}_FILE`), ...OTEL_VARIABLES]);
const MIB = 1024 * 1024;
const bytes = (quantity: string | number | undefined) => {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (!match) throw new Error(`a quantity in Ki, Mi or Gi, not ${String(quantity)}`);
  return Number(match[1]) * ({ Ki: 1024, Mi: MIB, Gi: 1024 * MIB }[match[2] as 'Ki'] ?? 1);
};
const benchFigure = (pattern: RegExp) => {
  const match = pattern.exec(read('BENCHMARKS.md'));
  if (!match) throw new Error(`BENCHMARKS.md no longer has ${pattern}: update this test with the new bench's wording`);
  return Number(match[1]);
};

/** Each target rendered, its relay container laid out, and what loadConfig made of it (or why it refused). */
const pods: { target: Target; files: PodFiles; config: Config | Error }[] = [];
const rendered = lazily(() => {
  for (const target of renderTargets()) {
    const files = layOutPod(target, 'relay', secretValues);
    let config: Config | Error;
    try {
      config = loadConfig(files.env);
    } catch (error) {
      config = error as Error;
    }
    pods.push({ target, files, config });
  }
  return pods.map((p) => p.target);
});
afterAll(() => {
  for (const { files } of pods) files.close();
});

const each = (test: (target: Target) => void) => () => {
  expect(rendered().length).toBeGreaterThan(0);
  for (const target of rendered()) test(target);
};
const relayOf = (target: Target) => containerOf(workloadOf(target).pod, 'relay');
const configOf = (target: Target): Config => {
  const { config } = pods.find((p) => p.target === target)!;
  if (config instanceof Error) throw new Error(`${target.name}: the relay refuses its rendered environment: ${config.message}`);
  return config;
};
const portOf = (target: Target, name: string) => relayOf(target).ports?.find((p) => p.name === name)?.containerPort;

describe('the manifests agree with the code', () => {
  it('every variable in the ConfigMap, the env, and relay.env (set or commented) is one the relay reads', () => {
    for (const target of rendered()) {
      for (const container of workloadOf(target).pod.containers) {
        for (const name of Object.keys(podVariables(target, container, secretValues))) expect(KNOWN.has(name), `${target.name}: ${container.name}: ${name}`).toBe(true);
      }
    }
    const names = [...read('deploy/kubernetes/base/relay.env').matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(KNOWN.has(name), `relay.env: ${name}`).toBe(true);
  });

  it("each rendered environment loads (secret files where the volumes put them), on the container's ports", each((target) => {
    const config = configOf(target);
    expect(config.port, target.name).toBe(portOf(target, 'public'));
    expect(config.ops?.port, target.name).toBe(portOf(target, 'ops'));
    expect(config.auth.disabled).toBe(false);
    expect(config.routes.every((r) => r.secrets.length > 0), target.name).toBe(true);
    expect(config.adminToken, `${target.name}: the admin API, which the routes reloader calls`).toBeDefined();
  }));

  it('probes: startup and liveness on /healthz, readiness on /readyz, all on the public port', each((target) => {
    const relay = relayOf(target);
    expect([relay.startupProbe?.httpGet, relay.livenessProbe?.httpGet, relay.readinessProbe?.httpGet], target.name).toEqual([
      { path: '/healthz', port: 'public' },
      { path: '/healthz', port: 'public' },
      { path: '/readyz', port: 'public' },
    ]);
  }));

  it('the grace period covers the preStop pause, SHUTDOWN_GRACE_MS and the exit ceiling of src/server.ts', each((target) => {
    const ceiling = /SHUTDOWN_GRACE_MS \+ (\d[\d_]*)\)/.exec(read('src/server.ts'));
    expect(ceiling, 'src/server.ts: setTimeout(..., SHUTDOWN_GRACE_MS + <ms>)').not.toBeNull();
    const pause = relayOf(target).lifecycle?.preStop?.sleep?.seconds ?? 0;
    const needed = pause + (configOf(target).env.SHUTDOWN_GRACE_MS + Number(ceiling![1]!.replace(/_/g, ''))) / 1000;
    expect(workloadOf(target).pod.terminationGracePeriodSeconds, target.name).toBeGreaterThan(needed);
  }));

  it("runs as the Dockerfile's user, unprivileged, on a read-only root", each((target) => {
    const dockerfile = read('Dockerfile');
    const user = /^USER (\S+)$/m.exec(dockerfile)![1]!;
    // A name (USER node) has its uid in the comment above it; a number is the uid itself.
    const uid = /^\d+$/.test(user) ? Number(user) : Number(new RegExp(`\`${user}\` user \\(uid (\\d+)\\)`).exec(dockerfile)?.[1]);
    const pod = workloadOf(target).pod;
    expect(pod.securityContext, target.name).toMatchObject({ runAsNonRoot: true, runAsUser: uid, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const container of pod.containers) {
      expect(container.securityContext, `${target.name}: ${container.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
  }));

  it("runs node with package.json's start flags", each((target) => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(read('Dockerfile'))![1]!) as string[];
    const relay = relayOf(target);
    expect(relay.command ?? relay.args ?? cmd, target.name).toEqual(['node', ...relayNodeFlags(root), 'dist/src/server.js']);
  }));

  it("memory: the request holds the bench's peak RSS; the limit lets V8's heap cap trip first", each((target) => {
    const resources = relayOf(target).resources!;
    const peak = benchFigure(/\| RSS peak of the relay, any phase \|[^|]*\|[^|]*\| (\d+) MB/);
    const fresh = benchFigure(/fresh relay (\d+) MB/);
    const oldSpace = Number(relayNodeFlags(root).find((f) => f.startsWith('--max-old-space-size='))!.split('=')[1]);
    expect(bytes(resources.requests?.['memory']) / MIB, target.name).toBeGreaterThan(peak);
    expect(bytes(resources.limits?.['memory']) / MIB, target.name).toBeGreaterThan(oldSpace + fresh);
    expect(resources.requests?.['cpu'], target.name).toBeDefined();
  }));

  it("the replicas at most, times each route's rate caps, stay within Adobe's limits (the caps' defaults)", each((target) => {
    const hpa = objectsOf(target, 'HorizontalPodAutoscaler')[0] as { spec: { maxReplicas: number } } | undefined;
    const replicas = hpa?.spec.maxReplicas ?? workloadOf(target).spec.replicas ?? 1;
    for (const route of configOf(target).routes) {
      expect(route.rateCaps.requestsPerSecond * replicas, `${target.name}: ${route.id}`).toBeLessThanOrEqual(ROUTE_SETTINGS.AEP_MAX_REQUESTS_PER_SECOND.default);
      expect(route.rateCaps.messagesPerSecond * replicas, `${target.name}: ${route.id}`).toBeLessThanOrEqual(ROUTE_SETTINGS.AEP_MAX_MESSAGES_PER_SECOND.default);
    }
  }));

  it('the ServiceMonitor scrapes /metrics under the job name the alert rules match', () => {
    const jobs = new Set([...read('deploy/prometheus-alerts.yml').matchAll(/job="([^"]+)"/g)].map((m) => m[1]));
    expect(jobs.size).toBe(1);
    for (const target of rendered().filter((t) => objectsOf(t, 'ServiceMonitor').length > 0)) {
      const monitor = objectsOf(target, 'ServiceMonitor')[0] as { spec: { jobLabel: string; endpoints: { path: string }[] } };
      const ops = objectsOf(target, 'Service').find((s) => s.metadata?.name === 'capillary-aep-relay-ops') as { metadata: { labels: Record<string, string> } };
      expect(jobs.has(ops.metadata.labels[monitor.spec.jobLabel]), target.name).toBe(true);
      expect(monitor.spec.endpoints.map((e) => e.path)).toEqual(['/metrics']);
    }
  });
});

describe('SQLite: one pod, its file on a volume', () => {
  const sqlite = () => rendered().filter((t) => t.name.includes('sqlite'));

  it('a one-replica StatefulSet that replaces its pod only once the old one is gone, and no autoscaler', () => {
    expect(sqlite()).toHaveLength(2);
    for (const target of sqlite()) {
      const workload = workloadOf(target);
      expect(workload.kind, target.name).toBe('StatefulSet');
      expect(workload.spec).toMatchObject({ replicas: 1, podManagementPolicy: 'OrderedReady', updateStrategy: { type: 'RollingUpdate' } });
      expect(objectsOf(target, 'HorizontalPodAutoscaler')).toEqual([]);
    }
  });

  it('STORE_URL is a file on the claimed volume, which holds STORE_MAX_SIZE_MB and the WAL room the relay keeps', () => {
    for (const target of sqlite()) {
      const { files } = pods.find((p) => p.target === target)!;
      const config = configOf(target);
      const workload = workloadOf(target);
      const claim = workload.spec.volumeClaimTemplates?.[0];
      const mount = relayOf(target).volumeMounts?.find((m) => m.name === claim?.metadata?.name);
      expect(config.store.url, target.name).toBe(`sqlite:${files.remap(`${mount!.mountPath}/relay.db`)}`);
      expect(config.store.maxSizeBytes, target.name).toBeDefined();
      expect(bytes(claim?.spec?.resources?.requests?.storage)).toBeGreaterThanOrEqual(config.store.maxSizeBytes! + LOW_ROOM_BYTES);
    }
  });
});

describe('PostgreSQL: 2+ replicas spread over nodes', () => {
  const postgres = () => rendered().filter((t) => t.name.includes('postgres'));

  it('a Deployment whose count the autoscaler owns, from 2 replicas, on the relay container\'s CPU', () => {
    expect(postgres()).toHaveLength(2);
    for (const target of postgres()) {
      const workload = workloadOf(target);
      expect(workload.kind).toBe('Deployment');
      expect(workload.spec.replicas, `${target.name}: a count here would fight the autoscaler`).toBeUndefined();
      const [hpa] = objectsOf(target, 'HorizontalPodAutoscaler') as unknown as { spec: { scaleTargetRef: object; minReplicas: number; metrics: object[] } }[];
      expect(hpa!.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: workload.name });
      expect(hpa!.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa!.spec.metrics).toEqual([{ type: 'ContainerResource', containerResource: { name: 'cpu', container: 'relay', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    }
  });

  it('STORE_URL from a Secret, and never two replicas on one node while another has none', () => {
    for (const target of postgres()) {
      const workload = workloadOf(target);
      expect(relayOf(target).env?.find((e) => e.name === 'STORE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'capillary-aep-relay-postgres', key: 'url' });
      expect(configOf(target).store.url).toBe(POSTGRES_URL);
      const byHost = workload.pod.topologySpreadConstraints?.find((c) => c.topologyKey === 'kubernetes.io/hostname');
      expect(byHost).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: workload.labels } });
    }
  });
});
