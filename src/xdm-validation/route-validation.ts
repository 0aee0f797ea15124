import type { Logger } from 'pino';
import type { RoutePlatform } from '../adobe/platform/route-platform.js';
import type { RouteConfig } from '../config/route-config.js';
import type { Sink } from '../delivery/types.js';
import type { Metrics } from '../metrics.js';
import { createRouteSchemas, type RouteSchemas } from './route-schemas.js';
import { createValidatingSink } from './validating-sink.js';

/**
 * Puts the schema check in front of a route's sink when it applies: XDM messages (AEP_OUTPUT=xdm) to
 * a real inlet, with AEP_SCHEMA_VALIDATION hold or warn. Dry-run routes, `raw` and `source` payloads
 * (Adobe's dataflow maps those itself) and `off` go as before.
 */
export function withSchemaValidation(deps: { route: RouteConfig; sink: Sink; platform: RoutePlatform; refreshMs: number; metrics: Metrics; logger: Logger }): { sink: Sink; schemas?: RouteSchemas } {
  const { route } = deps;
  const mode = route.platform.schemaValidation;
  if (mode === 'off' || route.output !== 'xdm' || !route.adobe) return { sink: deps.sink };
  const log = deps.logger.child({ component: 'schemas', route: route.id });
  const schemas = createRouteSchemas({
    route: route.id,
    schemaIds: { event: route.mapping.event.schemaId, ...(route.mapping.profile ? { profile: route.mapping.profile.schemaId } : {}) },
    client: deps.platform.client,
    ...(deps.platform.unavailable ? { unavailable: deps.platform.unavailable } : {}),
    refreshMs: deps.refreshMs,
    metrics: deps.metrics,
    logger: log,
  });
  if (!deps.platform.client) log.warn({ reason: deps.platform.unavailable }, "cannot read the customer's schemas: messages are held to the standard XDM schemas");
  schemas.start();
  return { sink: createValidatingSink({ inner: deps.sink, schemas, mode, route: route.id, metrics: deps.metrics, logger: log }), schemas };
}
