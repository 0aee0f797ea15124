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

/** How long a per-event log line stays quiet for its key after it is written. */
export const EVENT_LOG_INTERVAL_MS = 60_000;
/** Keys remembered at most: they come from webhooks (event names, orgs), so their number is bounded here. */
const EVENT_LOG_MAX_KEYS = 1_000;

/**
 * At most one line per key per interval, for lines a webhook can cause thousands of times a second
 * (a misrouted brand holds every one of its events; a program without identities warns on each).
 * The first line of a key is written at once; the rest of its interval is counted, and the count
 * rides on the key's next line as `suppressed`. Every event is still counted by its metric; what the
 * log saves is a line per webhook: thousands a second flood whatever collects the logs, and cost the
 * relay CPU (every webhook held, side by side: 0.76 of the CPU per webhook unpinned, 0.98 pinned to
 * one core; BENCHMARKS.md).
 */
export function createLogThrottle(options: { intervalMs?: number; now?: () => number } = {}) {
  const intervalMs = options.intervalMs ?? EVENT_LOG_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const keys = new Map<string, { quietUntil: number; suppressed: number }>();
  return (key: string, write: (suppressed: number) => void): void => {
    const at = now();
    const known = keys.get(key);
    if (known && at < known.quietUntil) {
      known.suppressed += 1;
      return;
    }
    if (known) keys.delete(key);
    else if (keys.size >= EVENT_LOG_MAX_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(key, { quietUntil: at + intervalMs, suppressed: 0 });
    write(known?.suppressed ?? 0);
  };
}

type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger whose pino child is made on the first line written at an enabled level. A class,
 * so a request costs one small object: closures per request would be most of what it saves.
 */
class LazyChildLogger {
  #child: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private real(): Logger {
    return (this.#child ??= this.parent.child(this.bindings));
  }

  private write(method: LevelMethod, args: unknown[]): void {
    if (!this.#child && !this.parent.isLevelEnabled(method)) return;
    (this.real()[method] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.#child ?? this.parent).level;
  }

  // Setting a request's level is the child's own (as with pino's child), never the parent's.
  set level(level: string) {
    this.real().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.parent).isLevelEnabled(level);
  }

  child(bindings: Record<string, unknown>, options?: object): Logger {
    return this.real().child(bindings, options);
  }

  silent(): void {}
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
}

/**
 * Fastify's `childLoggerFactory`: the request's logger (its `reqId` binding) made only when the
 * request writes a line. pino's child copies and redacts its bindings when it is made: 4.0 KB of
 * garbage per webhook, a tenth of what the event loop allocates for one (a sampling heap profile of the
 * relay under ingest), for a logger most requests never write to: an accepted webhook logs nothing at
 * the default level. Lines are the same as the child's would be; a level below the logger's costs a
 * comparison and makes nothing.
 */
export function lazyRequestLogger(parent: Logger, bindings: Record<string, unknown>, options: { level?: string }): Logger {
  // A route with its own log level: its child is what Fastify would have made.
  if (options.level) return parent.child(bindings, options);
  return new LazyChildLogger(parent, bindings) as unknown as Logger;
}
