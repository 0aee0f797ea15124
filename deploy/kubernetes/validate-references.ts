import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { describeObject, type ManifestObject } from './validate-schema.js';

/**
 * What the API server accepts but the cluster cannot use: names that point at nothing. A Service
 * whose targetPort names no container port, or a probe on a port that is not there, applies
 * cleanly and then never works; a patch that missed its target renders these silently.
 * Also the port-name rule the schema does not carry (IANA service names, as the API server checks).
 */

type Labels = Record<string, string>;
interface Workload {
  name: string;
  kind: string;
  labels: Labels;
  pod: IPodSpec;
  claims: string[];
}

const get = (object: unknown, ...path: string[]): unknown => path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), object);
const labelsAt = (object: unknown, ...path: string[]): Labels => (get(object, ...path) as Labels | undefined) ?? {};
const matches = (selector: Labels, labels: Labels) => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
/** IANA_SVC_NAME: at most 15 of a-z, 0-9 and -, a letter among them, no leading, trailing or double -. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

function workloadsOf(objects: ManifestObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => ({
      name: String(o.metadata?.name),
      kind: String(o.kind),
      labels: labelsAt(o, 'spec', 'template', 'metadata', 'labels'),
      pod: (get(o, 'spec', 'template', 'spec') as IPodSpec | undefined) ?? { containers: [] },
      claims: ((get(o, 'spec', 'volumeClaimTemplates') as { metadata?: { name?: string } }[] | undefined) ?? []).map((c) => String(c.metadata?.name)),
    }));
}

const containersOf = (pod: IPodSpec): IContainer[] => [...(pod.initContainers ?? []), ...pod.containers];
const portNames = (containers: IContainer[]) => new Set(containers.flatMap((c) => (c.ports ?? []).map((p) => p.name).filter((n): n is string => n !== undefined)));

function podProblems(w: Workload, configMaps: Set<string>): string[] {
  const problems: string[] = [];
  const where = `${w.kind}/${w.name}`;
  const volumes = new Set([...(w.pod.volumes ?? []).map((v) => v.name), ...w.claims]);
  const mounted = new Set<string>();
  const containerNames = new Set<string>();
  for (const c of containersOf(w.pod)) {
    if (containerNames.has(c.name)) problems.push(`${where}: two containers named ${c.name}`);
    containerNames.add(c.name);
    const ports = portNames([c]);
    for (const name of ports) if (name.length > 15 || !PORT_NAME.test(name)) problems.push(`${where}: container ${c.name}: port name ${name} is not an IANA service name (15 characters at most)`);
    for (const m of c.volumeMounts ?? []) {
      mounted.add(m.name);
      if (!volumes.has(m.name)) problems.push(`${where}: container ${c.name} mounts ${m.name}, which is not a volume of the pod`);
    }
    for (const ref of c.envFrom ?? []) {
      const name = ref.configMapRef?.name;
      if (name && !ref.configMapRef?.optional && !configMaps.has(name)) problems.push(`${where}: container ${c.name}: envFrom names ConfigMap ${name}, which is not rendered`);
    }
    for (const [probe, spec] of Object.entries({ startupProbe: c.startupProbe, livenessProbe: c.livenessProbe, readinessProbe: c.readinessProbe })) {
      const port = spec?.httpGet?.port ?? spec?.tcpSocket?.port ?? spec?.grpc?.port;
      if (typeof port === 'string' && !ports.has(port)) problems.push(`${where}: container ${c.name}: ${probe} uses port ${port}, which the container does not name`);
    }
  }
  for (const v of w.pod.volumes ?? []) {
    if (!mounted.has(v.name)) problems.push(`${where}: volume ${v.name} is mounted by no container`);
    const configMap = v.configMap?.name;
    if (configMap && !v.configMap?.optional && !configMaps.has(configMap)) problems.push(`${where}: volume ${v.name} names ConfigMap ${configMap}, which is not rendered`);
  }
  for (const claim of w.claims) if (!mounted.has(claim)) problems.push(`${where}: volume claim ${claim} is mounted by no container`);
  return problems;
}

/** Problems of references between the objects of one rendered manifest. */
export function referenceProblems(objects: ManifestObject[]): string[] {
  const problems: string[] = [];
  const workloads = workloadsOf(objects);
  const configMaps = new Set(objects.filter((o) => o.kind === 'ConfigMap').map((o) => String(o.metadata?.name)));
  const selected = (object: ManifestObject, selector: Labels) => {
    const found = workloads.filter((w) => matches(selector, w.labels));
    if (found.length === 0) problems.push(`${describeObject(object)}: its selector matches the pods of no Deployment or StatefulSet`);
    return found;
  };

  for (const w of workloads) {
    if (!matches(labelsAt(objects.find((o) => o.kind === w.kind && o.metadata?.name === w.name), 'spec', 'selector', 'matchLabels'), w.labels)) {
      problems.push(`${w.kind}/${w.name}: spec.selector does not match its own pod labels`);
    }
    problems.push(...podProblems(w, configMaps));
  }
  for (const object of objects) {
    const name = describeObject(object);
    if (object.kind === 'Service') {
      const targets = selected(object, labelsAt(object, 'spec', 'selector'));
      for (const port of (get(object, 'spec', 'ports') as { name?: string; targetPort?: unknown }[] | undefined) ?? []) {
        if (port.name !== undefined && !PORT_NAME.test(port.name)) problems.push(`${name}: port name ${port.name} is not an IANA service name`);
        if (typeof port.targetPort === 'string' && targets.some((w) => !portNames(w.pod.containers).has(port.targetPort as string))) {
          problems.push(`${name}: targetPort ${port.targetPort} is not a container port name of the pods it selects`);
        }
      }
    } else if (object.kind === 'PodDisruptionBudget') {
      selected(object, labelsAt(object, 'spec', 'selector', 'matchLabels'));
    } else if (object.kind === 'NetworkPolicy') {
      const targets = selected(object, labelsAt(object, 'spec', 'podSelector', 'matchLabels'));
      for (const rule of (get(object, 'spec', 'ingress') as { ports?: { port?: unknown }[] }[] | undefined) ?? []) {
        for (const { port } of rule.ports ?? []) {
          if (typeof port === 'string' && targets.some((w) => !portNames(w.pod.containers).has(port))) problems.push(`${name}: port ${port} is not a container port name of the pods it selects`);
        }
      }
    } else if (object.kind === 'HorizontalPodAutoscaler') {
      const ref = get(object, 'spec', 'scaleTargetRef') as { kind?: string; name?: string } | undefined;
      const target = workloads.find((w) => w.kind === ref?.kind && w.name === ref?.name);
      if (!target) problems.push(`${name}: scaleTargetRef ${ref?.kind}/${ref?.name} is not rendered`);
      for (const metric of (get(object, 'spec', 'metrics') as { containerResource?: { container?: string } }[] | undefined) ?? []) {
        const container = metric.containerResource?.container;
        if (container && target && !target.pod.containers.some((c) => c.name === container)) problems.push(`${name}: metric on container ${container}, which ${target.kind}/${target.name} does not have`);
      }
    } else if (object.kind === 'ServiceMonitor') {
      const services = objects.filter((o) => o.kind === 'Service' && matches(labelsAt(object, 'spec', 'selector', 'matchLabels'), labelsAt(o, 'metadata', 'labels')));
      if (services.length === 0) problems.push(`${name}: its selector matches no Service`);
      const jobLabel = get(object, 'spec', 'jobLabel');
      for (const service of services) {
        const ports = ((get(service, 'spec', 'ports') as { name?: string }[] | undefined) ?? []).map((p) => p.name);
        for (const endpoint of (get(object, 'spec', 'endpoints') as { port?: string }[] | undefined) ?? []) {
          if (endpoint.port && !ports.includes(endpoint.port)) problems.push(`${name}: endpoint port ${endpoint.port} is not a port of ${describeObject(service)}`);
        }
        if (typeof jobLabel === 'string' && labelsAt(service, 'metadata', 'labels')[jobLabel] === undefined) problems.push(`${name}: jobLabel ${jobLabel} is not a label of ${describeObject(service)}`);
      }
    }
  }
  return problems;
}
