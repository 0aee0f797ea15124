import { isSpanContextValid, SpanKind, SpanStatusCode, TraceFlags, trace, type Link, type Span, type SpanContext } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { CapillaryEvent } from '../mapping/capillary-event.js';

/**
 * The relay's own spans, written against the OpenTelemetry API only: with no SDK started (tracing
 * off) every call here is the API's no-op, and no SDK code is loaded. src/tracing/tracing.ts starts
 * the SDK when OTEL_* variables ask for it. No secret is ever put in an attribute or event: only
 * ids, names, counts and statuses (test/tracing/span-secrets.test.ts).
 */
export const TRACER_NAME = 'capillary-aep-relay';

export const tracer = () => trace.getTracer(TRACER_NAME);

/** W3C traceparent (version 00) of a span context; undefined when the context is not valid. */
export function formatTraceParent(context: SpanContext): string | undefined {
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceParent(value: string): SpanContext | undefined {
  const m = TRACE_PARENT.exec(value);
  if (!m) return undefined;
  const context: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

/** The server span @fastify/otel opened for this request, when tracing is on. */
function requestSpan(request: FastifyRequest): Span | undefined {
  const otel = (request as { opentelemetry?: () => { span?: Span | null } }).opentelemetry;
  return typeof otel === 'function' ? (otel.call(request).span ?? undefined) : undefined;
}

/**
 * Puts the event's identity on the webhook's server span and returns what the store keeps with
 * the event: the span's traceparent, only when it was sampled (an unsampled intake has nothing to
 * link to). Tracing off: no span, nothing stored.
 */
export function traceIntake(request: FastifyRequest, event: CapillaryEvent): { traceParent?: string } {
  const span = requestSpan(request);
  if (!span) return {};
  span.setAttributes({
    'capillary.event_id': event.eventId,
    'capillary.event_name': event.eventName,
    ...(event.orgId !== undefined ? { 'capillary.org_id': event.orgId } : {}),
  });
  const context = span.spanContext();
  if ((context.traceFlags & TraceFlags.SAMPLED) !== TraceFlags.SAMPLED) return {};
  const traceParent = formatTraceParent(context);
  return traceParent ? { traceParent } : {};
}

/** The outcome on the webhook's server span, set just before the answer is sent (the span ends then). */
export function recordWebhookOutcome(request: FastifyRequest, statusCode: number): void {
  const span = requestSpan(request);
  if (!span) return;
  const outcome = request.webhook?.outcome;
  if (outcome) span.setAttribute('capillary.outcome', outcome);
  else span.setAttributes({ 'capillary.outcome': 'refused', 'capillary.refused_status': statusCode });
}

/** Most links one batch span carries (the SDK's own default limit is 128). */
export const MAX_BATCH_LINKS = 128;

/** Links from a delivery batch to the intake spans of its events: one per event, bounded. */
export function intakeLinks(messages: ReadonlyArray<{ eventId: string; traceParent?: string; attempts: number }>): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const message of messages) {
    if (links.length >= MAX_BATCH_LINKS) break;
    if (!message.traceParent || seen.has(message.eventId)) continue;
    seen.add(message.eventId);
    const context = parseTraceParent(message.traceParent);
    if (context) links.push({ context, attributes: { 'capillary.event_id': message.eventId, 'capillary.delivery.attempt': message.attempts + 1 } });
  }
  return links;
}

/**
 * Runs `work` inside a CLIENT span for one HTTP call to Adobe. `work` reports the answer's status
 * (and anything else) through the span it is handed; a thrown error marks the span failed.
 */
export async function withClientSpan<T>(name: string, attributes: Record<string, string | number>, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as { code?: string }).code ?? 'request failed' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** trace_id and span_id of the active span, for pino's mixin (installed only when tracing is on). */
export function activeTraceFields(): Record<string, string> {
  const context = trace.getActiveSpan()?.spanContext();
  if (!context || !isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}

/**
 * Adobe's answer on a client span: the status, and the xactionIds DCS gave each message (parsed
 * only when the span is recorded: tracing off costs nothing). A failure without an answer gets
 * `error.type` (timeout, network).
 */
export function recordAdobeAnswer(span: Span, answer: { status: number; text: string } | { failure: string }): void {
  if (!span.isRecording()) return;
  if ('failure' in answer) {
    span.setAttribute('error.type', answer.failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: answer.failure });
    return;
  }
  span.setAttribute('http.response.status_code', answer.status);
  if (answer.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${answer.status}` });
  const ids = xactionIdsOf(answer.text);
  if (ids.length > 0) span.setAttribute('aep.xaction_ids', ids.slice(0, MAX_BATCH_LINKS));
}

function xactionIdsOf(text: string): string[] {
  try {
    const json = JSON.parse(text) as { xactionId?: unknown; responses?: unknown };
    const entries = Array.isArray(json.responses) ? (json.responses as Array<{ xactionId?: unknown } | null>) : [json];
    return entries.map((e) => e?.xactionId).filter((id): id is string => typeof id === 'string');
  } catch {
    return [];
  }
}

/** Where a client span goes: method, host and path only (a query string is never recorded). */
export function urlAttributes(method: string, url: string): Record<string, string> {
  try {
    const { host, pathname } = new URL(url);
    return { 'http.request.method': method, 'server.address': host, 'url.path': pathname };
  } catch {
    return { 'http.request.method': method };
  }
}

/** The answer's status on the active client span (a no-op with tracing off). */
export function recordHttpStatus(status: number): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.setAttribute('http.response.status_code', status);
  if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
}
