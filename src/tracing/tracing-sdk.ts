import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { linkAwareSampler, samplerFromEnv } from './sampler.js';
import { recordWebhookOutcome } from './spans.js';
import type { Tracing } from './types.js';
import type { OtlpProtocol, TracingSettings } from './tracing-env.js';

/** Probes and scrapes are not worth a trace each. */
const UNTRACED_PATHS = ['/healthz', '/readyz', '/metrics'];

async function createExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT itself.
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

/** The SDK proper, loaded only when tracing is configured (src/tracing/tracing.ts). */
export async function startTracingSdk(settings: TracingSettings, env: Record<string, string | undefined>, logger?: Logger): Promise<Tracing> {
  if (logger) {
    // The SDK's own complaints (an unreachable collector...) as pino lines, warnings and up only.
    const log = logger.child({ component: 'tracing' });
    diag.setLogger(
      { error: (m) => log.error(m), warn: (m) => log.warn(m), info: () => undefined, debug: () => undefined, verbose: () => undefined },
      DiagLogLevel.WARN,
    );
  }
  const resource = resourceFromAttributes({ 'service.name': settings.serviceName }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    sampler: linkAwareSampler(samplerFromEnv(env)),
    spanProcessors: [new BatchSpanProcessor(await createExporter(settings.protocol))],
  });
  // Global: AsyncLocalStorage context (so Adobe calls are children of their batch span) and W3C
  // traceparent propagation (so a proxy's trace is continued).
  provider.register();

  const instrumentation = new FastifyOtelInstrumentation({
    // One server span per request and one for the handler (where the commit happens); a span per
    // hook would multiply the cost for little insight.
    instrumentHooks: false,
    ignorePaths: (route: { url?: string }) => UNTRACED_PATHS.some((path) => route.url?.split('?')[0] === path),
    requestHook: (span, request) => {
      span.updateName(`${request.method} ${request.routeOptions.url ?? 'unknown route'}`);
      // The request id a caller (Capillary or its proxy) sent, to find this call in their logs.
      const requestId = request.headers['x-request-id'];
      if (typeof requestId === 'string' && requestId !== '') span.setAttribute('capillary.request_id', requestId.slice(0, 128));
    },
  });
  instrumentation.setTracerProvider(provider);

  const outcomePlugin = fp(
    async (app: FastifyInstance) => {
      // Instance hooks run before @fastify/otel's route-level hook that ends the span.
      app.addHook('onSend', async (request, reply, payload) => {
        if (request.routeOptions.url === '/webhooks/capillary') recordWebhookOutcome(request, reply.statusCode);
        return payload;
      });
    },
    { name: 'tracing-outcome' },
  );
  const fastifyPlugin: FastifyPluginCallback = fp(
    async (app: FastifyInstance) => {
      await app.register(instrumentation.plugin());
      await app.register(outcomePlugin);
    },
    { name: 'tracing' },
  );

  let stopped: Promise<void> | undefined;
  return {
    protocol: settings.protocol,
    fastifyPlugin,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        instrumentation.disable();
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      })();
      return stopped;
    },
  };
}
