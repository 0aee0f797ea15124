import { ConfigError } from '../errors.js';

/**
 * Tracing is configured with the standard OpenTelemetry variables, read by the SDK itself (so an
 * operator's existing OTEL_* knowledge applies unchanged). They are kept out of src/config/env-schema.ts
 * on purpose: the SDK parses them (headers, timeouts, sampler arguments, span limits...) and a second
 * parser here would disagree with it. The relay reads only what decides whether tracing starts at all
 * and which exporter to load. The list below is what .env.example and docs/operations.md document
 * (test/ops/env-docs.test.ts keeps them in step).
 */
export const OTEL_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SDK_DISABLED',
] as const;

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  protocol: OtlpProtocol;
  serviceName: string;
}

const PROTOCOLS: ReadonlySet<string> = new Set<OtlpProtocol>(['http/protobuf', 'http/json']);

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * undefined (tracing off, no SDK loaded) unless an OTLP endpoint is configured and the SDK is not
 * disabled. Throws ConfigError for a protocol the relay does not ship an exporter for (grpc).
 */
export function tracingSettings(env: Record<string, string | undefined>): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (!set(env.OTEL_EXPORTER_OTLP_ENDPOINT) && !set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return undefined;
  const variable = set(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  // The specification's default is http/protobuf.
  const protocol = env[variable]?.trim() || 'http/protobuf';
  if (!PROTOCOLS.has(protocol)) throw new ConfigError(variable, 'http/protobuf or http/json (grpc is not supported)');
  return { protocol: protocol as OtlpProtocol, serviceName: env.OTEL_SERVICE_NAME?.trim() || 'capillary-aep-relay' };
}
