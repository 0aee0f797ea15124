import pino, { type DestinationStream, type Logger } from 'pino';

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

/**
 * `traceFields`: a hook whose fields every line carries, e.g. the active span's trace_id and span_id
 * (server.ts passes tracing's when tracing is on). A hook rather than an import keeps the logger at
 * the bottom of the code: it knows nothing of tracing.
 */
export function createLogger(options: { level: string; authHeader?: string; traceFields?: () => Record<string, unknown> }, destination?: DestinationStream): Logger {
  const paths = [...REDACTED_PATHS];
  if (options.authHeader && options.authHeader !== 'authorization') paths.push(`req.headers[${JSON.stringify(options.authHeader)}]`);
  return pino(
    {
      level: options.level,
      base: { service: 'capillary-aep-relay' },
      redact: { paths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.traceFields ? { mixin: options.traceFields } : {}),
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
