import { Agent } from 'undici';

/**
 * The one outbound HTTP dispatcher of the app (IMS and AEP alike): created once at start-up,
 * injected into every client, closed once on shutdown. Keep-alive matters: a new TLS handshake per
 * batch would cost more than the batch itself.
 */
export interface DispatcherOptions {
  /** Sockets per origin (undici pools per origin). */
  connections?: number;
  /** Idle keep-alive when the server gives no hint. */
  keepAliveTimeoutMs?: number;
  /** Upper bound on a server's keep-alive hint. */
  keepAliveMaxTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Backstops: each request also carries its own deadline through an AbortSignal. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export const DISPATCHER_DEFAULTS: Required<DispatcherOptions> = {
  connections: 16,
  keepAliveTimeoutMs: 10_000,
  keepAliveMaxTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
};

/** An undici Agent; the caller owns it and must `close()` it (or `destroy()` to cut in-flight requests). */
export function createDispatcher(options: DispatcherOptions = {}): Agent {
  const o = { ...DISPATCHER_DEFAULTS, ...definedOnly(options) };
  return new Agent({
    connections: o.connections,
    // No pipelining: a reset would fail every request queued behind the one that caused it.
    pipelining: 1,
    // HTTP/1.1 only, as undici 7 did (8 negotiates HTTP/2 when the server offers it): connections,
    // delivery concurrency and timeouts are sized for one request per socket, and on HTTP/2 one
    // reset connection would fail every batch in flight at once (test/adobe/dispatcher.test.ts).
    allowH2: false,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    keepAliveMaxTimeout: o.keepAliveMaxTimeoutMs,
    connect: { timeout: o.connectTimeoutMs },
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
  });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
