import { withoutTrailingSlashes } from '../../urls.js';
import { PLATFORM_PATHS, XED_FULL, type PlatformClient } from './platform-client.js';

/**
 * Typed reads of what a route's sandbox holds, in the shapes of Adobe's specs
 * (/work/shared/reference/adobe-platform-apis.md). Unknown fields are ignored; missing ones are undefined.
 */
export interface SandboxInfo {
  name: string;
  title?: string;
  type?: string;
  state?: string;
  isDefault?: boolean;
}

export interface DatasetInfo {
  id: string;
  name?: string;
  schemaRef?: { id?: string; contentType?: string };
  tags?: Record<string, unknown>;
}

export interface NamespaceInfo {
  code: string;
  status?: string;
  custom?: boolean;
}

export interface ConnectionInfo {
  id: string;
  state?: string;
  name?: string;
  auth?: { params?: { inletUrl?: string; inletId?: string; authenticationRequired?: boolean } };
}

export type XdmSchemaDocument = Record<string, unknown> & {
  $id?: string;
  title?: string;
  'meta:class'?: string;
  'meta:immutableTags'?: unknown;
  'meta:tenantNamespace'?: string;
  properties?: Record<string, unknown>;
};

/** Adobe's connection spec id of the HTTP API streaming source (the inlet's connection). */
export const HTTP_API_CONNECTION_SPEC_ID = 'bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb';
export const EXPERIENCE_EVENT_CLASS = 'https://ns.adobe.com/xdm/context/experienceevent';
export const PROFILE_CLASS = 'https://ns.adobe.com/xdm/context/profile';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const opts = (signal: AbortSignal | undefined) => (signal ? { signal } : {});

export async function listSandboxes(client: PlatformClient, signal?: AbortSignal): Promise<SandboxInfo[]> {
  const answer = await client.get<{ sandboxes?: unknown }>(PLATFORM_PATHS.sandboxes, opts(signal));
  return Array.isArray(answer?.sandboxes) ? answer.sandboxes.filter((s): s is SandboxInfo => isRecord(s) && typeof s.name === 'string') : [];
}

export async function readTenantId(client: PlatformClient, signal?: AbortSignal): Promise<string | undefined> {
  const answer = await client.get<{ tenantId?: unknown }>(`${PLATFORM_PATHS.schemaRegistry}/stats`, opts(signal));
  return typeof answer?.tenantId === 'string' ? answer.tenantId : undefined;
}

/** A tenant schema with every `$ref` resolved, by `$id` or `meta:altId`. */
export function readSchema(client: PlatformClient, schemaId: string, signal?: AbortSignal): Promise<XdmSchemaDocument> {
  return client.get<XdmSchemaDocument>(`${PLATFORM_PATHS.schemaRegistry}/tenant/schemas/${encodeURIComponent(schemaId)}`, { accept: XED_FULL, ...opts(signal) });
}

/** Catalog answers `{"<id>": {...}}`; the entry under the id asked for (or the only one). */
export async function readDataset(client: PlatformClient, datasetId: string, signal?: AbortSignal): Promise<DatasetInfo | undefined> {
  const answer = await client.get<Record<string, unknown>>(`${PLATFORM_PATHS.catalog}/dataSets/${encodeURIComponent(datasetId)}`, opts(signal));
  const entry = isRecord(answer) ? (answer[datasetId] ?? Object.values(answer)[0]) : undefined;
  return isRecord(entry) ? ({ ...entry, id: datasetId } as DatasetInfo) : undefined;
}

export async function listNamespaces(client: PlatformClient, signal?: AbortSignal): Promise<NamespaceInfo[]> {
  const answer = await client.get<unknown>(`${PLATFORM_PATHS.identity}/identities`, opts(signal));
  return Array.isArray(answer) ? answer.filter((n): n is NamespaceInfo => isRecord(n) && typeof n.code === 'string') : [];
}

/** The HTTP API connection whose inlet is `inletId` (the last segment of AEP_INLET_URL). */
export async function findInletConnection(client: PlatformClient, inletId: string, signal?: AbortSignal): Promise<ConnectionInfo | undefined> {
  const answer = await client.get<{ items?: unknown }>(`${PLATFORM_PATHS.flowService}/connections`, { query: { property: `connectionSpec.id==${HTTP_API_CONNECTION_SPEC_ID}` }, ...opts(signal) });
  const items = Array.isArray(answer?.items) ? answer.items.filter((c): c is ConnectionInfo => isRecord(c) && typeof c.id === 'string') : [];
  return items.find((c) => c.auth?.params?.inletId === inletId || withoutTrailingSlashes(c.auth?.params?.inletUrl ?? '').endsWith(`/${inletId}`));
}

/** Catalog tags are read loosely: Adobe's own example writes `"enabled: true"` where answers say `"enabled:true"`. */
export function tagEnabled(tags: Record<string, unknown> | undefined, tag: string): boolean {
  const values = tags?.[tag];
  return Array.isArray(values) && values.some((v) => typeof v === 'string' && /^enabled\s*:\s*true$/i.test(v.trim()));
}

export function immutableTags(schema: XdmSchemaDocument): string[] {
  const tags = schema['meta:immutableTags'];
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}
