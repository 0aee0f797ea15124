import type { XdmSchemaDocument } from '../adobe/platform/platform-reads.js';
import type { RoutePlatform } from '../adobe/platform/route-platform.js';
import type { RouteConfig } from '../config/route-config.js';
import type { MessageKind } from '../mapping/types.js';
import type { RouteSchemas } from '../xdm-validation/route-schemas.js';
import { result } from './check-result.js';
import { checkImsToken, checkInlet, checkNamespaces, checkSandbox, checkTenant } from './checks-access.js';
import { checkDataset, checkFieldCoverage, checkSchema, checkSchemaValidation } from './checks-xdm.js';
import { CHECK_NAMES, type CheckName, type CheckResult, type RouteReport } from './types.js';

/**
 * The setup check of one route (issue 16, docs/setup-check.md): reads the customer's own sandbox with
 * the route's credential and says, check by check, whether what the relay sends can land. Checks
 * that do not apply to the route (dry-run, `raw` and `source` outputs, no profile dataset) are
 * skipped and say why; checks that need what an earlier one could not get are skipped too.
 */
export interface RouteCheckInput {
  route: RouteConfig;
  platform: RoutePlatform;
  /** The running relay's schemas for this route (the admin endpoint); the CLI has none. */
  schemas?: RouteSchemas | undefined;
  signal?: AbortSignal;
}

export async function checkRoute(input: RouteCheckInput): Promise<RouteReport> {
  const { route, platform, signal } = input;
  const checks = new Map<CheckName, CheckResult>();
  const set = (check: CheckResult) => checks.set(check.name, check);
  const skipRest = (detail: string, fix = '') => {
    for (const name of CHECK_NAMES) if (!checks.has(name)) set(result(name, 'skipped', detail, fix));
  };
  const report = (): RouteReport => ({ route: route.id, checks: CHECK_NAMES.map((name) => checks.get(name)!) });

  if (!route.adobe && !route.source) {
    skipRest('dry-run route (no AEP_INLET_URL): nothing is sent to Adobe', 'set AEP_INLET_URL and the Adobe settings to deliver');
    return report();
  }
  // raw and source payloads are mapped by the dataflow in AEP, not by the relay: no XDM of ours to check.
  const xdm = route.output === 'xdm';
  if (!xdm) {
    const why = `AEP_OUTPUT=${route.output}: the dataflow in AEP maps the payload, the relay sends no XDM`;
    for (const name of ['event_dataset', 'profile_dataset', 'event_schema', 'profile_schema', 'tenant', 'identity_namespaces', 'field_coverage', 'schema_validation'] as const) set(result(name, 'skipped', why));
    if (route.output === 'source') set(result('inlet', 'skipped', "AEP_OUTPUT=source: the Capillary source's dataflows are checked in AEP (Sources, Dataflows)"));
  }

  if (!platform.tokens) {
    skipRest('unauthenticated inlet (no ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET): the Platform APIs need an IMS token', 'set ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET and ADOBE_ORG_ID so the relay can read the sandbox');
    if (xdm) set(checkSchemaValidation(route, input.schemas, false));
    return report();
  }
  const token = await checkImsToken(platform.tokens, signal);
  set(token);
  if (token.status === 'fail') {
    skipRest('needs an IMS token');
    return report();
  }
  if (!platform.client) {
    set(result('sandbox', 'fail', platform.unavailable, 'set ADOBE_ORG_ID to the IMS org of the credential (…@AdobeOrg, Developer Console, the project’s credential)'));
    skipRest('needs access to the sandbox');
    if (xdm) set(checkSchemaValidation(route, input.schemas, false));
    return report();
  }
  const client = platform.client;
  const sandbox = await checkSandbox(client, signal);
  set(sandbox);
  if (sandbox.status !== 'ok') {
    skipRest(`needs access to sandbox "${client.sandboxName}"`);
    return report();
  }

  const inletUrl = route.adobe?.inletUrl;
  const schemaReads = xdm ? (['event', 'profile'] as const).map((kind) => checkSchema(client, route, kind, signal)) : [];
  const [inlet, tenant, namespaces, eventDataset, profileDataset, ...schemas] = await Promise.all([
    !checks.has('inlet') && inletUrl ? checkInlet(client, inletUrl, signal) : Promise.resolve(undefined),
    xdm ? checkTenant(client, route, signal) : undefined,
    xdm ? checkNamespaces(client, route, signal) : undefined,
    xdm ? checkDataset(client, route, 'event', signal) : undefined,
    xdm ? checkDataset(client, route, 'profile', signal) : undefined,
    ...schemaReads,
  ]);
  for (const check of [inlet, tenant, namespaces, eventDataset, profileDataset]) if (check) set(check);
  if (!xdm) return report();

  const documents: Partial<Record<MessageKind, XdmSchemaDocument>> = {};
  const unreadable: MessageKind[] = [];
  (['event', 'profile'] as const).forEach((kind, i) => {
    const read = schemas[i] as Awaited<ReturnType<typeof checkSchema>>;
    set(read.check);
    if (read.document) documents[kind] = read.document;
    else if (read.check.status !== 'skipped') unreadable.push(kind);
  });
  set(checkFieldCoverage(route, documents, unreadable));
  set(checkSchemaValidation(route, input.schemas, unreadable.length === 0));
  return report();
}
