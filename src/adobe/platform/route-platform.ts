import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { RouteConfig } from '../../config/route-config.js';
import type { TokenProvider } from '../ims-token-provider.js';
import { createPlatformClient, type PlatformClient } from './platform-client.js';

/** A route's access to its sandbox: a client, or why there is none (said in the setup check and logs). */
export type RoutePlatform = { client: PlatformClient; tokens: TokenProvider; unavailable?: undefined } | { client?: undefined; tokens?: TokenProvider; unavailable: string };

/**
 * The Platform API client of a route, on the route's own IMS token provider (same credential, same
 * cached token as its deliveries). None without credentials or ADOBE_ORG_ID: the APIs need both.
 */
export function routePlatform(deps: { route: RouteConfig; tokens: TokenProvider | undefined; dispatcher: Dispatcher; timeoutMs: number; logger: Logger }): RoutePlatform {
  const { route, tokens } = deps;
  if (!route.credentials || !tokens) return { unavailable: 'no Adobe credentials (ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET): the Platform APIs need an IMS token' };
  if (!route.platform.orgId) return { tokens, unavailable: 'ADOBE_ORG_ID is unset: the Platform APIs need the IMS org id (x-gw-ims-org-id)' };
  const client = createPlatformClient({
    baseUrl: route.platform.url,
    sandboxName: route.platform.sandboxName,
    clientId: route.credentials.clientId,
    orgId: route.platform.orgId,
    tokens,
    dispatcher: deps.dispatcher,
    timeoutMs: deps.timeoutMs,
    logger: deps.logger,
  });
  return { client, tokens };
}
