import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

/** One object of a rendered manifest, as parsed from YAML. */
export type ManifestObject = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; [field: string]: unknown };

type Model = new (data: never) => { validate(): void };

/**
 * The kinds the manifests may hold, each with its model: the OpenAPI schema of Kubernetes (or of
 * the Prometheus Operator's CRD) compiled to a validator. A kind missing here is a problem, not a
 * pass, so a new kind cannot slip through unchecked.
 */
const MODELS: ReadonlyMap<string, Model> = new Map<string, Model>([
  ['v1/ConfigMap', ConfigMap],
  ['v1/Service', Service],
  ['apps/v1/Deployment', Deployment],
  ['apps/v1/StatefulSet', StatefulSet],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
  ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler],
  ['monitoring.coreos.com/v1/ServiceMonitor', ServiceMonitor],
]);

interface SchemaError {
  instancePath: string;
  message?: string;
}

export const describeObject = (object: ManifestObject) => `${String(object.kind)}/${String(object.metadata?.name)}`;

function schemaErrors(model: Model, object: ManifestObject): SchemaError[] {
  try {
    new model(object as never).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors as SchemaError[];
    throw error;
  }
}

/** A value no typed schema accepts: not a string, number, boolean, array, object or null. */
const PROBE = () => undefined;
const pointerSegment = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Fields the schema does not know (a misspelt `imagePullPolicyy`, a field at the wrong level).
 * The models' schemas allow extra properties, as Kubernetes' OpenAPI does, and the API server
 * drops unknown fields with only a warning, so a typo would deploy as if absent. Each field is
 * replaced in turn by a value of no JSON type: a field the schema describes then fails at its
 * path; one it does not describe passes unnoticed, and is reported.
 */
function unknownFields(model: Model, root: ManifestObject): string[] {
  const unknown: string[] = [];
  const visit = (node: unknown, pointer: string, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, `${pointer}/${index}`, `${path}[${index}]`));
      return;
    }
    if (!isPlainObject(node)) return;
    for (const key of Object.keys(node)) {
      const fieldPointer = `${pointer}/${pointerSegment(key)}`;
      const fieldPath = path ? `${path}.${key}` : key;
      const value = node[key];
      node[key] = PROBE;
      let described: boolean;
      try {
        described = schemaErrors(model, root).some((e) => e.instancePath === fieldPointer || e.instancePath.startsWith(`${fieldPointer}/`));
      } finally {
        node[key] = value;
      }
      if (described) visit(value, fieldPointer, fieldPath);
      else unknown.push(fieldPath);
    }
  };
  visit(root, '', '');
  return unknown;
}

/** Every object against its schema: wrong types, missing required fields, unknown fields. */
export function schemaProblems(objects: ManifestObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const name = describeObject(object);
    const model = MODELS.get(`${String(object.apiVersion)}/${String(object.kind)}`);
    if (!model) {
      problems.push(`${name}: no schema for ${String(object.apiVersion)} ${String(object.kind)} (add its model to deploy/kubernetes/validate-schema.ts)`);
      continue;
    }
    const errors = schemaErrors(model, object);
    if (errors.length > 0) {
      for (const e of errors) problems.push(`${name}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
      continue;
    }
    for (const field of unknownFields(model, object)) problems.push(`${name}: unknown field ${field}`);
  }
  return problems;
}
