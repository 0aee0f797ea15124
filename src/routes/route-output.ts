import type { RouteConfig } from '../config/route-config.js';
import type { CapillaryEvent } from '../mapping/capillary-event.js';
import { mapEvent } from '../mapping/map-event.js';
import { mapRawEvent } from '../mapping/source/raw-payload.js';
import { mapSourceEvent } from '../mapping/source/source-payloads.js';
import type { MappingResult, QueuedMessage } from '../mapping/types.js';

/** What a route makes of an event: whether its org belongs here, and the messages it queues. */
export interface RouteOutput {
  readonly routeId: string;
  /** True when the route lists the event's org (or lists none: the environment's route). */
  admits(event: CapillaryEvent): boolean;
  /** `body`: the webhook body as received (AEP_OUTPUT=raw sends it as is). Pure, never throws. */
  map(event: CapillaryEvent, body: string): MappingResult<QueuedMessage>;
}

export function routeOutput(route: Pick<RouteConfig, 'id' | 'orgIds' | 'output' | 'mapping'>): RouteOutput {
  // Profile watermarks are per member and program; a member id of one brand must never hold back
  // another brand's records, so a file route's keys are its own.
  const scoped = (result: MappingResult<QueuedMessage>): MappingResult<QueuedMessage> =>
    route.id === 'default' || !result.messages.some((m) => m.profileKey !== undefined)
      ? result
      : { ...result, messages: result.messages.map((m) => (m.profileKey === undefined ? m : { ...m, profileKey: `${route.id}/${m.profileKey}` })) };
  return {
    routeId: route.id,
    admits: (event) => route.orgIds === undefined || (event.orgId !== undefined && route.orgIds.has(event.orgId)),
    map(event, body) {
      switch (route.output) {
        case 'xdm':
          return scoped(mapEvent(event, route.mapping));
        case 'source':
          return scoped(mapSourceEvent(event, route.mapping));
        case 'raw':
          return mapRawEvent(event, body);
      }
    },
  };
}
