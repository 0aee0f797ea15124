import type { FastifyPluginCallback } from 'fastify';

/** A started tracing SDK: the Fastify plugin that opens the server spans, and its lifecycle. */
export interface Tracing {
  readonly protocol: string;
  /** @fastify/otel's plugin: register it before the routes. */
  readonly fastifyPlugin: FastifyPluginCallback;
  /** Exports every finished span now (tests; shutdown calls it too). */
  forceFlush(): Promise<void>;
  /** Flushes, stops the SDK and unregisters it from the OpenTelemetry API. Harmless twice. */
  shutdown(): Promise<void>;
}
