import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { createPlatformClient } from '../adobe/platform/platform-client.js';
import { createCapillaryClient, type CapillaryClient } from '../capillary/capillary-client.js';
import type { LiveRoute } from '../routes/route-table.js';
import type { RouteSources } from './judge.js';
import { DAY_MS, HOUR_MS } from './windows.js';

/** One call to Capillary or Adobe, token included. */
export const SOURCE_TIMEOUT_MS = 30_000;

/**
 * Builds what accounting reads for each route in service: Adobe through the Platform client on the
 * route's own IMS token provider (the token its deliveries use), Capillary through a client kept per
 * route, so its OAuth token is cached from one run to the next. Says why a column is absent.
 */
export function createRouteSources(deps: { dispatcher: Dispatcher; logger: Logger; now?: () => number }) {
  const capillaryClients = new Map<string, { settings: string; client: CapillaryClient }>();

  const capillaryOf = (route: LiveRoute): CapillaryClient | undefined => {
    const config = route.config.capillaryApi;
    if (!config) {
      capillaryClients.delete(route.config.id);
      return undefined;
    }
    const settings = JSON.stringify(config);
    const known = capillaryClients.get(route.config.id);
    if (known?.settings === settings) return known.client;
    const client = createCapillaryClient({
      config,
      dispatcher: deps.dispatcher,
      timeoutMs: SOURCE_TIMEOUT_MS,
      logger: deps.logger.child({ component: 'capillary', route: route.config.id }),
      ...(deps.now ? { now: deps.now } : {}),
    });
    capillaryClients.set(route.config.id, { settings, client });
    return client;
  };

  const adobeAbsence = (route: LiveRoute): string | undefined => {
    const { config } = route;
    if (config.output !== 'xdm') return `AEP_OUTPUT=${config.output}: the datasets belong to Adobe's dataflows and are not configured in the relay`;
    if (!config.adobe) return 'dry-run (AEP_INLET_URL is unset): nothing is sent to Adobe';
    if (!route.tokens || !config.credentials) return 'no Adobe credentials (ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET): the Platform APIs need an IMS token';
    if (!config.mapping.imsOrgId) return 'ADOBE_ORG_ID is unset: the Platform APIs need the IMS org';
    return undefined;
  };

  return {
    of(route: LiveRoute): RouteSources {
      const { config } = route;
      const capillary = capillaryOf(route);
      const adobeAbsent = adobeAbsence(route);
      const platform =
        adobeAbsent === undefined
          ? createPlatformClient({
              baseUrl: config.platform.url,
              sandboxName: config.platform.sandboxName,
              clientId: config.credentials!.clientId,
              orgId: config.mapping.imsOrgId!,
              tokens: route.tokens!,
              dispatcher: deps.dispatcher,
              timeoutMs: SOURCE_TIMEOUT_MS,
              logger: deps.logger.child({ component: 'platform', route: config.id }),
            })
          : undefined;
      const inletId = config.adobe ? new URL(config.adobe.inletUrl).pathname.split('/').filter(Boolean).pop() : undefined;
      return {
        route: config.id,
        sizeMs: platform ? DAY_MS : HOUR_MS,
        datasets: [
          { kind: 'event', dataset: config.mapping.event.datasetId },
          ...(config.mapping.profile ? [{ kind: 'profile' as const, dataset: config.mapping.profile.datasetId }] : []),
        ],
        customerNamespace: config.mapping.identity.customerId,
        capillary,
        platform,
        inletId,
        absent: {
          ...(capillary ? {} : { capillary: 'CAPILLARY_API_URL, CAPILLARY_API_KEY, CAPILLARY_API_SECRET and CAPILLARY_CONSUMER_GROUP_ID are unset for this route' }),
          ...(adobeAbsent ? { adobe: adobeAbsent } : {}),
        },
      };
    },
    /** Routes no longer served: their clients go. */
    keepOnly(ids: Set<string>) {
      for (const id of capillaryClients.keys()) if (!ids.has(id)) capillaryClients.delete(id);
    },
  };
}

export type RouteSourcesFactory = ReturnType<typeof createRouteSources>;
