import { readFileSync } from 'node:fs';
import { AEP } from './aep-relay.js';
import { customNamespace, emptySandbox, httpApiConnection, type FakeSandbox, type FakeSchema } from './fake-platform-state.js';

/**
 * A customer sandbox set up as docs/mapping.md tells: an ExperienceEvent schema (Commerce, Loyalty
 * Event Details, IdentityMap and the Capillary field group under `_<tenant>.capillary`), a Profile
 * schema (Loyalty Details, IdentityMap, the Capillary field group) enabled for Profile, a dataset of
 * each (the profile one enabled for Profile), the relay's identity namespaces, and an enabled HTTP
 * API connection behind the inlet that requires authentication. Schemas are resolved documents as
 * the Schema Registry answers `xed-full+json; version=1`, built from the flat XDM test fixtures.
 */

type Json = Record<string, unknown>;
const readJson = (url: URL) => JSON.parse(readFileSync(url, 'utf8')) as Json;
const flat = (name: string) => readJson(new URL(`../fixtures/xdm/${name}.flat.schema.json`, import.meta.url));

/** The `capillary` object of deploy/aep/capillary-field-group.json: what users add to both schemas. */
export function capillaryFieldGroup(): Json {
  const group = readJson(new URL('../../deploy/aep/capillary-field-group.json', import.meta.url)) as { definitions: { capillary: { properties: Record<string, { properties: { capillary: Json } }> } } };
  return group.definitions.capillary.properties['_{TENANT_ID}']!.properties.capillary;
}

const CLASSES = { event: 'https://ns.adobe.com/xdm/context/experienceevent', profile: 'https://ns.adobe.com/xdm/context/profile' } as const;

/** A resolved schema document: the flat fixture's fields, closed (no open tenant pattern), with the tenant field group unless left out. */
export function resolvedSchema(kind: 'event' | 'profile', options: { tenant?: string; schemaId?: string; withTenantFieldGroup?: boolean; profileEnabled?: boolean } = {}): FakeSchema {
  const tenant = options.tenant ?? AEP.tenant;
  const schemaId = options.schemaId ?? AEP[kind].schemaId;
  const { patternProperties: _open, $schema: _draft, $comment: _comment, title: _title, ...fields } = flat(kind === 'event' ? 'experience-event' : 'profile');
  const properties = { ...(fields.properties as Json) };
  if (options.withTenantFieldGroup !== false) {
    properties[`_${tenant}`] = { type: 'object', 'meta:xdmType': 'object', properties: { capillary: capillaryFieldGroup() } };
  }
  return {
    $id: schemaId,
    $schema: 'http://json-schema.org/draft-06/schema#',
    'meta:altId': `_${tenant}.schemas.${schemaId.split('/').pop()}`,
    'meta:resourceType': 'schemas',
    version: '1.2',
    title: kind === 'event' ? 'Capillary loyalty events' : 'Capillary loyalty members',
    'meta:class': CLASSES[kind],
    'meta:extends': [CLASSES[kind], 'https://ns.adobe.com/xdm/context/identitymap'],
    'meta:tenantNamespace': `_${tenant}`,
    'meta:containerId': 'tenant',
    'meta:immutableTags': kind === 'profile' && options.profileEnabled !== false ? ['union'] : [],
    ...fields,
    properties,
  };
}

export function wellSetUpSandbox(options: { inletUrl: string; tenant?: string; name?: string }): FakeSandbox {
  const tenant = options.tenant ?? AEP.tenant;
  const sandbox = emptySandbox(options.name ?? 'prod', tenant);
  sandbox.schemas.push(resolvedSchema('event', { tenant }), resolvedSchema('profile', { tenant }));
  const contentType = 'application/vnd.adobe.xed-full+json;version=1';
  sandbox.datasets[AEP.event.datasetId] = { name: 'Capillary loyalty events', schemaRef: { id: AEP.event.schemaId, contentType }, tags: { unifiedProfile: ['enabled:false'] } };
  sandbox.datasets[AEP.profile.datasetId] = { name: 'Capillary loyalty members', schemaRef: { id: AEP.profile.schemaId, contentType }, tags: { unifiedProfile: ['enabled:true'], unifiedIdentity: ['enabled:true'] } };
  sandbox.namespaces.push(customNamespace('CapillaryId', 1_001), customNamespace('CapillaryExternalId', 1_002));
  sandbox.connections.push(httpApiConnection(options.inletUrl));
  return sandbox;
}
