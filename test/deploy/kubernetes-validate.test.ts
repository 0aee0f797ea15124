import { describe, expect, it } from 'vitest';
import { manifestProblems, type ManifestObject } from '../../deploy/kubernetes/validate.js';
import { lazily, objectsOf, renderTargets, targetNamed } from '../helpers/kubernetes-pod.js';

/**
 * deploy/kubernetes/validate.ts, which .ci/lint runs: every overlay and example renders with
 * kubectl and passes the Kubernetes schemas offline, and a broken object does not. kubectl is
 * required: without it these fail, saying what to install, rather than skip.
 */

const rendered = lazily(renderTargets);

describe('deploy/kubernetes renders', () => {
  it('both overlays, and each with every optional component', () => {
    expect(rendered().map((t) => t.name).sort()).toEqual([
      'deploy/kubernetes/examples/postgres-with-components',
      'deploy/kubernetes/examples/sqlite-with-components',
      'deploy/kubernetes/overlays/postgres',
      'deploy/kubernetes/overlays/sqlite',
    ]);
  });

  it('the overlays need no CRD; the ServiceMonitor comes only with its component', () => {
    for (const name of ['sqlite', 'postgres']) {
      const overlay = targetNamed(rendered(), name);
      expect(overlay.objects.filter((o) => !String(o.apiVersion).match(/^(v1|apps\/v1|policy\/v1|networking\.k8s\.io\/v1|autoscaling\/v2)$/)), overlay.name).toEqual([]);
      expect(objectsOf(targetNamed(rendered(), `${name}-with-components`), 'ServiceMonitor')).toHaveLength(1);
    }
  });

  it('every object passes its schema, with no unknown field and no name that points at nothing', () => {
    for (const target of rendered()) expect(manifestProblems(target.objects), target.name).toEqual([]);
  });
});

type Breakage = [what: string, expected: RegExp, breakIt: (objects: ManifestObject[]) => void];

// `any`: the objects are broken on purpose, past what their types allow.
const workload = (objects: ManifestObject[]) => objects.find((o) => o.kind === 'Deployment') as any;
const service = (objects: ManifestObject[]) => objects.find((o) => o.kind === 'Service') as any;
const relay = (objects: ManifestObject[]) => workload(objects).spec.template.spec.containers.find((c: { name: string }) => c.name === 'relay');

const BREAKAGES: Breakage[] = [
  ['a wrong type', /Deployment\/capillary-aep-relay: \/spec\/replicas must be integer/, (o) => void (workload(o).spec.replicas = 'two')],
  ['a misspelt field', /unknown field spec\.template\.spec\.containers\[\d\]\.imagePullPolicyy/, (o) => void (relay(o).imagePullPolicyy = 'Always')],
  ['a field at the wrong level', /unknown field spec\.template\.spec\.securityContext\.readOnlyRootFilesystem/, (o) => void (workload(o).spec.template.spec.securityContext.readOnlyRootFilesystem = true)],
  ['a misspelt field in a CRD', /ServiceMonitor\/capillary-aep-relay: unknown field spec\.endpoints\[0\]\.intervall/, (o) => void ((o.find((x) => x.kind === 'ServiceMonitor') as any).spec.endpoints[0].intervall = '30s')],
  ['a missing required field', /Service\/capillary-aep-relay: \/spec\/ports\/0 must have required property port/, (o) => void delete service(o).spec.ports[0].port],
  ['a malformed quantity', /resources\/limits\/memory must match format "quantity"/, (o) => void (relay(o).resources.limits.memory = '512 MB')],
  ['a port name longer than 15', /port name webhooks-public-port is not an IANA service name/, (o) => void (relay(o).ports[0].name = 'webhooks-public-port')],
  ['a Service aimed at a port no container names', /Service\/capillary-aep-relay: targetPort http is not a container port name/, (o) => void (service(o).spec.ports[0].targetPort = 'http')],
  ['a probe on a port the container lacks', /readinessProbe uses port health/, (o) => void (relay(o).readinessProbe.httpGet.port = 'health')],
  ['a mount of no volume', /mounts scratch, which is not a volume of the pod/, (o) => void relay(o).volumeMounts.push({ name: 'scratch', mountPath: '/scratch' })],
  ['a selector that selects nothing', /PodDisruptionBudget\/capillary-aep-relay: its selector matches the pods of no Deployment/, (o) => void ((o.find((x) => x.kind === 'PodDisruptionBudget') as any).spec.selector.matchLabels = { app: 'relay' })],
  ['a kind with no model', /PrometheusRule\/capillary-aep-relay: no schema/, (o) => void o.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'capillary-aep-relay' }, spec: {} })],
];

describe('the validator refuses a broken manifest', () => {
  it.each(BREAKAGES)('%s', (_what, expected, breakIt) => {
    const objects = structuredClone(targetNamed(rendered(), 'postgres-with-components').objects);
    expect(manifestProblems(objects)).toEqual([]);
    breakIt(objects);
    const problems = manifestProblems(objects);
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });
});
