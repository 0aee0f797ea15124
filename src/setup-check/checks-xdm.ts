import type { PlatformClient } from '../adobe/platform/platform-client.js';
import { EXPERIENCE_EVENT_CLASS, immutableTags, PROFILE_CLASS, readDataset, readSchema, tagEnabled, type XdmSchemaDocument } from '../adobe/platform/platform-reads.js';
import type { RouteConfig } from '../config/route-config.js';
import type { MessageKind } from '../mapping/types.js';
import type { RouteSchemas } from '../xdm-validation/route-schemas.js';
import { fromPlatformError, isNotFound, result } from './check-result.js';
import { coverage } from './field-coverage.js';
import type { CheckResult } from './types.js';

/** event_dataset, profile_dataset, event_schema, profile_schema, field_coverage, schema_validation. */

const VAR = { event: { dataset: 'AEP_EVENT_DATASET_ID', schema: 'AEP_EVENT_SCHEMA_ID' }, profile: { dataset: 'AEP_PROFILE_DATASET_ID', schema: 'AEP_PROFILE_SCHEMA_ID' } } as const;
const targetOf = (route: RouteConfig, kind: MessageKind) => (kind === 'event' ? route.mapping.event : route.mapping.profile);

export async function checkDataset(client: PlatformClient, route: RouteConfig, kind: MessageKind, signal?: AbortSignal): Promise<CheckResult> {
  const name = kind === 'event' ? 'event_dataset' : 'profile_dataset';
  const target = targetOf(route, kind);
  if (!target) return result(name, 'skipped', `${VAR.profile.dataset} is unset: no profile records are sent`);
  try {
    const dataset = await readDataset(client, target.datasetId, signal);
    if (!dataset) return result(name, 'fail', `dataset ${target.datasetId} not found in sandbox "${client.sandboxName}"`, `check ${VAR[kind].dataset} (Datasets in AEP) and AEP_SANDBOX_NAME`);
    const label = `dataset ${dataset.name ? `"${dataset.name}" ` : ''}(${target.datasetId})`;
    const schemaId = dataset.schemaRef?.id;
    if (schemaId !== target.schemaId) {
      return result(name, 'fail', `${label} is built on schema ${schemaId ?? '(none)'}, ${VAR[kind].schema} is ${target.schemaId}: Adobe would refuse every record`, `set ${VAR[kind].schema}=${schemaId ?? "the dataset's schema $id"}, or ${VAR[kind].dataset} to a dataset of that schema`);
    }
    if (kind === 'profile' && !tagEnabled(dataset.tags, 'unifiedProfile')) {
      return result(name, 'fail', `${label} is not enabled for Profile: its records would land in the data lake and never reach a profile`, 'enable the dataset for Profile (Datasets, the dataset, Profile toggle; its schema must be enabled for Profile first)');
    }
    return result(name, 'ok', `${label}, schema ${schemaId}${kind === 'profile' ? ', enabled for Profile' : ''}`);
  } catch (error) {
    if (isNotFound(error)) return result(name, 'fail', `dataset ${target.datasetId} not found in sandbox "${client.sandboxName}"`, `check ${VAR[kind].dataset} (Datasets in AEP) and AEP_SANDBOX_NAME`);
    return fromPlatformError(name, error, `dataset ${target.datasetId}`, 'View Datasets');
  }
}

export async function checkSchema(client: PlatformClient, route: RouteConfig, kind: MessageKind, signal?: AbortSignal): Promise<{ check: CheckResult; document?: XdmSchemaDocument }> {
  const name = kind === 'event' ? 'event_schema' : 'profile_schema';
  const target = targetOf(route, kind);
  if (!target) return { check: result(name, 'skipped', `${VAR.profile.dataset} is unset: no profile records are sent`) };
  try {
    const document = await readSchema(client, target.schemaId, signal);
    const label = `schema ${document.title ? `"${document.title}" ` : ''}(${target.schemaId})`;
    const wanted = kind === 'event' ? EXPERIENCE_EVENT_CLASS : PROFILE_CLASS;
    const actual = document['meta:class'];
    if (actual !== wanted) return { check: result(name, 'fail', `${label} has class ${actual ?? '(none)'}, not ${wanted}`, `set ${VAR[kind].schema} to a schema of class XDM ${kind === 'event' ? 'ExperienceEvent' : 'Individual Profile'}`), document };
    if (kind === 'profile' && !immutableTags(document).includes('union')) {
      return { check: result(name, 'fail', `${label} is not enabled for Profile (no "union" tag)`, 'enable the schema for Profile (Schemas, the schema, Profile toggle)'), document };
    }
    return { check: result(name, 'ok', `${label}, class ${kind === 'event' ? 'ExperienceEvent' : 'Individual Profile'}${kind === 'profile' ? ', enabled for Profile' : ''}`), document };
  } catch (error) {
    if (isNotFound(error)) return { check: result(name, 'fail', `schema ${target.schemaId} not found in sandbox "${client.sandboxName}"`, `set ${VAR[kind].schema} to the schema's $id (Schemas in AEP, the schema's API usage)`) };
    return { check: fromPlatformError(name, error, `schema ${target.schemaId}`, 'View Schemas') };
  }
}

/** Every field the route's mapping writes exists in the customer's schemas, and fits them. */
export function checkFieldCoverage(route: RouteConfig, documents: Partial<Record<MessageKind, XdmSchemaDocument>>, unreadable: MessageKind[]): CheckResult {
  if (unreadable.length > 0) return result('field_coverage', 'skipped', `needs the ${unreadable.join(' and ')} schema, which could not be read (see above)`);
  const lines: string[] = [];
  let failed = false;
  let messages = 0;
  for (const [kind, document] of Object.entries(documents) as Array<[MessageKind, XdmSchemaDocument]>) {
    const found = coverage(document, kind, route.mapping);
    messages += found.messages;
    if (found.missing.length > 0) {
      failed = true;
      lines.push(`the ${kind} schema lacks ${found.missing.length} field${found.missing.length > 1 ? 's' : ''} the mapping writes: ${found.missing.slice(0, 8).join(', ')}${found.missing.length > 8 ? ', ...' : ''}`);
    }
    if (found.misfits.length > 0) {
      failed = true;
      lines.push(`mapped ${kind}s do not fit the ${kind} schema: ${found.misfits.join('; ')}`);
    }
  }
  if (failed) {
    const tenant = route.mapping.tenantId ? `_${route.mapping.tenantId}` : '';
    return result('field_coverage', 'fail', lines.join('. '), `add the missing field groups to the schemas (Capillary Loyalty from deploy/aep/capillary-field-group.json${tenant ? ` for ${tenant}.capillary` : ''}, Loyalty Details/Loyalty Event Details), or set XDM_LEGACY_LOYALTY_SCHEMA=true for an older Loyalty field group`);
  }
  return result('field_coverage', 'ok', `every field of ${messages} mapped messages (the documented Capillary events, with this route's settings) exists in the schema${Object.keys(documents).length > 1 ? 's' : ''}`);
}

/** Which schema messages are held to: the relay's live state when running, else what this read found. */
export function checkSchemaValidation(route: RouteConfig, schemas: RouteSchemas | undefined, readable: boolean): CheckResult {
  const mode = route.platform.schemaValidation;
  if (mode === 'off') return result('schema_validation', 'skipped', 'AEP_SCHEMA_VALIDATION=off: messages are sent unchecked', 'set AEP_SCHEMA_VALIDATION=hold so records that cannot land are held instead of lost in an error batch');
  const action = mode === 'hold' ? 'held as schema_mismatch' : 'sent and counted';
  if (schemas) {
    const fallback = schemas.status().filter((s) => s.source === 'standard');
    if (fallback.length > 0) {
      const why = fallback.map((s) => `${s.kind}: ${s.lastError ?? 'not read yet'}`).join('; ');
      return result('schema_validation', 'warn', `messages are held to the standard XDM schemas the relay ships, not the customer's (${why}); a message that does not fit is ${action}`, 'grant View Schemas to the credential, then POST /admin/schemas/refresh');
    }
    const unchecked = schemas.status().flatMap((s) => s.unchecked);
    return result('schema_validation', 'ok', `messages are checked against the customer's schemas; one that does not fit is ${action}${unchecked.length > 0 ? ` (rules not checkable here: ${unchecked.slice(0, 3).join(', ')})` : ''}`);
  }
  if (!readable) return result('schema_validation', 'warn', `the relay would hold messages to the standard XDM schemas it ships, since the customer's cannot be read; a message that does not fit is ${action}`, 'grant View Schemas to the credential');
  return result('schema_validation', 'ok', `the relay checks messages against the customer's schemas; one that does not fit is ${action}`);
}
