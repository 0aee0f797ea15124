import pino, { type DestinationStream, type Logger } from 'pino';
import { activeTraceFields } from './tracing/spans.js';

/**
 * Paths pino blanks out wherever they appear in a log object. Secrets should never reach a log call
 * in the first place; this is the second line of defence (test/logger.test.ts checks both).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'config.auth.secrets',
  'config.adobe.clientSecret',
  'config.adminToken',
  '*.clientSecret',
  '*.client_secret',
  '*.accessToken',
  '*.access_token',
  '*.token',
  '*.authorization',
  '*.secret',
  '*.secrets',
  '*.password',
];

/** `traceIds`: lines written inside a span carry its trace_id and span_id (only when tracing is on). */
export function createLogger(options: { level: string; authHeader?: string; traceIds?: boolean }, destination?: DestinationStream): Logger {
  const paths = [...REDACTED_PATHS];
  if (options.authHeader && options.authHeader !== 'authorization') paths.push(`req.headers[${JSON.stringify(options.authHeader)}]`);
  return pino(
    {
      level: options.level,
      base: { service: 'capillary-aep-relay' },
      redact: { paths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.traceIds ? { mixin: activeTraceFields } : {}),
    },
    destination,
  );
}

/**
 * A child logger for one component (`{ component: 'delivery' }`). Fastify types its logger as the
 * narrower FastifyBaseLogger; the instance is the pino logger server.ts created, so the cast is safe.
 */
export function componentLogger(log: { child(bindings: Record<string, unknown>): unknown }, component: string): Logger {
  return log.child({ component }) as Logger;
}
