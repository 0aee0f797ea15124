import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from '../../deploy/kubernetes/validate.js';
import { containerOf, layOutPod, objectsOf, podVariables, renderTarget, secretSample, workloadOf, writeVolume, type PodFiles } from '../helpers/kubernetes-pod.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The pod of examples/sqlite-with-components, run for real without a cluster: the relay process
 * with the rendered environment and volumes (layOutPod), and the routes-reloader sidecar's own
 * script from the rendered manifest. Volumes change as the kubelet changes them (a `..data`
 * symlink swap), and the test waits for the relay to put the change in force.
 */

let target: Target;
let files: PodFiles;
let relay: RelayProcess;
let sidecar: ChildProcess;
const sidecarLines: { status?: number; msg?: string; answer?: string }[] = [];
const admin = { authorization: `Bearer ${secretSample('admin-token')}` };

const reloadAnswers = () => sidecarLines.filter((l) => l.msg === 'routes reload answered');
const routeIds = async () => ((await (await fetch(`${relay.opsUrl}/admin/routes`, { headers: admin })).json()) as { routes: { id: string }[] }).routes.map((r) => r.id).sort();
let events = 0;
const postWebhook = (route: string, secret: string) =>
  fetch(`${relay.url}/webhooks/capillary/${route}`, { method: 'POST', headers: { authorization: secret, 'content-type': 'application/json' }, body: JSON.stringify(sampleWithId('points-issued', `k8s-reload-${++events}`)) }).then((r) => r.status);

/** The route secrets volume as it is now, to change one file of it. */
const routeSecrets = () => {
  const dir = files.hostDir('route-secrets');
  return Object.fromEntries(readdirSync(dir).filter((n) => !n.startsWith('..')).map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
};
const routesFile = () => readFileSync(join(files.hostDir('routes'), 'routes.yaml'), 'utf8');
const writeRoutes = (text: string) => writeVolume(files.hostDir('routes'), { 'routes.yaml': text });

/** Starts the pod; every test awaits it, so a failure (kubectl missing) fails each of them. */
async function startPod(): Promise<void> {
  target = renderTarget('sqlite-with-components');
  files = layOutPod(target, 'relay');
  relay = await startRelay({ ...files.env, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1' });

  const reloader = containerOf(workloadOf(target).pod, 'routes-reloader');
  const [node, ...args] = reloader.args ?? [];
  if (node !== 'node') throw new Error(`the routes-reloader runs node, not ${String(node)}`);
  const env = Object.fromEntries(Object.entries(podVariables(target, reloader)).map(([k, v]) => [k, files.remap(v)]));
  sidecar = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', ...env, OPS_PORT: new URL(relay.opsUrl).port }, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  sidecar.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) sidecarLines.push(JSON.parse(line) as (typeof sidecarLines)[number]);
  });
}
let started: Promise<void>;
beforeAll(() => {
  started = startPod();
  return started.catch(() => undefined);
});

afterAll(async () => {
  sidecar?.kill('SIGTERM');
  await relay?.kill('SIGTERM');
  files?.close();
});

describe('the relay pod, run from the rendered manifest', () => {
  it('answers each probe on the port it names, and /metrics where the ServiceMonitor scrapes', async () => {
    await started;
    const relayContainer = containerOf(workloadOf(target).pod, 'relay');
    const listener: Record<string, string> = { public: relay.url, ops: relay.opsUrl };
    for (const probe of [relayContainer.startupProbe, relayContainer.livenessProbe, relayContainer.readinessProbe]) {
      const { path, port } = probe!.httpGet!;
      expect((await fetch(`${listener[String(port)]}${path}`)).status, `${path} on ${port}`).toBe(200);
    }
    const [monitor] = objectsOf(target, 'ServiceMonitor') as unknown as { spec: { endpoints: { port: string; path: string }[] } }[];
    for (const endpoint of monitor!.spec.endpoints) {
      const res = await fetch(`${listener[endpoint.port]}${endpoint.path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('relay_webhooks_received_total');
    }
  });

  it('the sidecar reads the files the relay reads, and has the routes reloaded once at its start', async () => {
    await started;
    const pod = workloadOf(target).pod;
    const relayMounts = containerOf(pod, 'relay').volumeMounts ?? [];
    for (const mount of containerOf(pod, 'routes-reloader').volumeMounts ?? []) {
      const same = relayMounts.find((m) => m.name === mount.name);
      // The admin token is the relay's, at the same path; the relay's mount holds more files.
      expect(same?.mountPath, mount.name).toBe(mount.mountPath);
    }
    await waitFor(() => reloadAnswers().length === 1, { what: 'the sidecar reload at start' });
    expect(reloadAnswers()[0]!.status).toBe(200);
    expect(await routeIds()).toEqual(['brand-a', 'brand-b']);
  });

  it('a route added to the ConfigMap is served without a restart', async () => {
    await started;
    const before = reloadAnswers().length;
    const secret = secretSample('brand-c-capillary-auth-secrets');
    writeVolume(files.hostDir('route-secrets'), { ...routeSecrets(), 'brand-c-capillary-auth-secrets': secret });
    const secretPath = join(files.hostDir('route-secrets'), 'brand-c-capillary-auth-secrets');
    writeRoutes(`${routesFile()}  brand-c:\n    CAPILLARY_ORG_IDS: "51186"\n    CAPILLARY_AUTH_SECRETS_FILE: ${secretPath}\n    DRY_RUN_FILE: ${files.remap('/data/brand-c-dry-run.ndjson')}\n`);
    // The sidecar's log line too, so the next test counts from after this reload.
    await waitFor(() => reloadAnswers().length > before, { what: 'the answer to the added route' });
    expect(reloadAnswers().at(-1)).toMatchObject({ status: 200 });
    expect(await routeIds()).toEqual(['brand-a', 'brand-b', 'brand-c']);
    expect(await postWebhook('brand-c', secret)).toBe(202);
  });

  it("a rotated route secret is in force once the Secret's files change", async () => {
    await started;
    const before = reloadAnswers().length;
    const name = 'brand-a-capillary-auth-secrets';
    const old = routeSecrets()[name]!;
    expect(await postWebhook('brand-a', old)).toBe(202);
    writeVolume(files.hostDir('route-secrets'), { ...routeSecrets(), [name]: 'k8s-test-webhook-rotated-brand-a' });
    await waitFor(() => reloadAnswers().length > before, { what: 'a reload after the secret changed' });
    expect(reloadAnswers().at(-1)!.status).toBe(200);
    expect(JSON.parse(reloadAnswers().at(-1)!.answer!)).toMatchObject({ changed: ['brand-a'] });
    expect(await postWebhook('brand-a', 'k8s-test-webhook-rotated-brand-a')).toBe(202);
    expect(await postWebhook('brand-a', old)).toBe(401);
  });

  it('a routes file the relay refuses leaves the routes in force, and the refusal is logged', async () => {
    await started;
    const before = reloadAnswers().length;
    writeRoutes(routesFile().replace('CAPILLARY_ORG_IDS: "150698"', 'CAPILLARY_ORG_IDS: "150698"\n    AEP_INLETT_URL: https://example.com/'));
    await waitFor(() => reloadAnswers().length > before, { what: 'the answer to the refused file' });
    expect(reloadAnswers().at(-1)).toMatchObject({ status: 422 });
    expect(reloadAnswers().at(-1)!.answer).toContain('AEP_INLETT_URL');
    expect(await routeIds()).toEqual(['brand-a', 'brand-b', 'brand-c']);
  });
});
