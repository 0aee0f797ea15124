import type { PlatformClient } from '../adobe/platform/platform-client.js';
import { findInletConnection, listNamespaces, listSandboxes, readTenantId } from '../adobe/platform/platform-reads.js';
import type { TokenProvider } from '../adobe/ims-token-provider.js';
import type { RouteConfig } from '../config/route-config.js';
import { fromPlatformError, result } from './check-result.js';
import type { CheckResult } from './types.js';

/** ims_token, sandbox, inlet, tenant, identity_namespaces: can the relay reach the sandbox, and is it the one. */

export async function checkImsToken(tokens: TokenProvider, signal?: AbortSignal): Promise<CheckResult> {
  try {
    await tokens.getToken(signal);
    const expiresAt = tokens.status().expiresAt;
    const hours = expiresAt === undefined ? undefined : Math.max(0, Math.round((expiresAt - Date.now()) / 360_000) / 10);
    return result('ims_token', 'ok', `IMS issued a token${hours === undefined ? '' : ` (valid for ${hours} h)`}`);
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return result('ims_token', 'fail', `no IMS token: ${e.message ?? e.code ?? 'unknown error'}`, 'check ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET, ADOBE_SCOPES and ADOBE_IMS_URL against the Developer Console project (OAuth Server-to-Server)');
  }
}

export async function checkSandbox(client: PlatformClient, signal?: AbortSignal): Promise<CheckResult> {
  const name = client.sandboxName;
  try {
    const sandboxes = await listSandboxes(client, signal);
    const found = sandboxes.find((s) => s.name.toLowerCase() === name);
    if (!found) {
      const listed = sandboxes.map((s) => s.name).join(', ') || 'none';
      return result('sandbox', 'fail', `sandbox "${name}" is not one the credential can use (it can use: ${listed})`, "set AEP_SANDBOX_NAME to the sandbox of the inlet and datasets, or add that sandbox to the credential's product profile");
    }
    if (found.state && found.state !== 'active') return result('sandbox', 'fail', `sandbox "${name}" is ${found.state}`, 'use an active sandbox (AEP_SANDBOX_NAME)');
    return result('sandbox', 'ok', `"${name}"${found.title ? ` (${found.title}` : ' ('}${found.type ? `, ${found.type})` : ')'}`);
  } catch (error) {
    // Listing sandboxes needs no special permission: a refusal here means the credential cannot use Platform.
    const outcome = fromPlatformError('sandbox', error, 'the sandboxes', 'sandbox access');
    return outcome.status === 'warn' && outcome.detail.includes('403') ? { ...outcome, status: 'fail' } : outcome;
  }
}

/** The inlet id: the last path segment of `/collection/{id}` or `/collection/batch/{id}`. */
export function inletIdOf(inletUrl: string): string {
  return new URL(inletUrl).pathname.split('/').filter(Boolean).pop() ?? '';
}

export async function checkInlet(client: PlatformClient, inletUrl: string, signal?: AbortSignal): Promise<CheckResult> {
  const inletId = inletIdOf(inletUrl);
  try {
    const connection = await findInletConnection(client, inletId, signal);
    if (!connection) {
      return result('inlet', 'fail', `no HTTP API streaming connection with inlet ${inletId} in sandbox "${client.sandboxName}"`, "copy AEP_INLET_URL from the dataflow's HTTP API connection in this sandbox (Sources, HTTP API), or set AEP_SANDBOX_NAME to the inlet's sandbox");
    }
    const label = `connection ${connection.name ? `"${connection.name}" ` : ''}(${connection.id})`;
    if (connection.state !== 'enabled') return result('inlet', 'fail', `${label} is ${connection.state ?? 'not enabled'}`, 'enable the connection and its dataflow in AEP (Sources, Dataflows)');
    if (connection.auth?.params?.authenticationRequired !== true) {
      return result('inlet', 'warn', `${label} is enabled and accepts data without authentication: anyone with the URL can write to it`, 'enable authentication on the HTTP API connection (the relay sends its token either way)');
    }
    return result('inlet', 'ok', `${label} is enabled and requires authentication`);
  } catch (error) {
    return fromPlatformError('inlet', error, 'the inlet connection', 'View Sources');
  }
}

export async function checkTenant(client: PlatformClient, route: RouteConfig, signal?: AbortSignal): Promise<CheckResult> {
  try {
    const tenantId = await readTenantId(client, signal);
    const configured = route.mapping.tenantId;
    if (configured === undefined) return result('tenant', 'skipped', `AEP_TENANT_ID is unset: no _<tenant> fields are sent (the sandbox's tenant is ${tenantId ?? 'unknown'})`, tenantId ? `set AEP_TENANT_ID=${tenantId} to send the Capillary field group's fields` : '');
    if (tenantId === undefined) return result('tenant', 'warn', 'the Schema Registry did not name a tenant id', 'check AEP_TENANT_ID against the Schema Registry (GET /stats)');
    if (tenantId !== configured) return result('tenant', 'fail', `AEP_TENANT_ID is ${configured}, the sandbox's tenant is ${tenantId}: every _${configured} field would be refused`, `set AEP_TENANT_ID=${tenantId}`);
    return result('tenant', 'ok', `tenant ${tenantId}`);
  } catch (error) {
    return fromPlatformError('tenant', error, 'the tenant id', 'View Schemas');
  }
}

/** Every namespace the route's mapping writes into identityMap. */
export function namespacesOf(route: RouteConfig): string[] {
  const { customerId, email, phone, externalId, channels } = route.mapping.identity;
  return [...new Set([customerId, email, phone, externalId, ...Object.values(channels)].filter((n) => n !== ''))];
}

export async function checkNamespaces(client: PlatformClient, route: RouteConfig, signal?: AbortSignal): Promise<CheckResult> {
  try {
    const known = await listNamespaces(client, signal);
    const codes = new Map(known.map((n) => [n.code.toLowerCase(), n]));
    const wanted = namespacesOf(route);
    const missing = wanted.filter((n) => !codes.has(n.toLowerCase()));
    if (missing.length > 0) {
      return result('identity_namespaces', 'fail', `namespaces the mapping uses are missing from the sandbox: ${missing.join(', ')}`, `create them in AEP (Identities, Create identity namespace, with these codes) or change IDENTITY_NAMESPACE_* to existing ones`);
    }
    const inactive = wanted.filter((n) => (codes.get(n.toLowerCase())?.status ?? 'ACTIVE').toUpperCase() !== 'ACTIVE');
    if (inactive.length > 0) return result('identity_namespaces', 'fail', `namespaces not active: ${inactive.join(', ')}`, 'activate them in AEP (Identities)');
    const cased = wanted.filter((n) => codes.get(n.toLowerCase())?.code !== n);
    if (cased.length > 0) return result('identity_namespaces', 'warn', `namespaces exist with another spelling: ${cased.map((n) => `${n} (${codes.get(n.toLowerCase())?.code})`).join(', ')}`, 'use the codes exactly as AEP lists them (IDENTITY_NAMESPACE_*)');
    return result('identity_namespaces', 'ok', `all ${wanted.length} exist: ${wanted.join(', ')}`);
  } catch (error) {
    return fromPlatformError('identity_namespaces', error, 'the identity namespaces', 'View Identity Namespaces');
  }
}
