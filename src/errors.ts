/**
 * Domain errors carry a stable `code` (what callers, tests and error bodies key on) and an HTTP
 * status for the one root error handler. Messages never include secrets.
 */
export class RelayError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly context: Record<string, unknown>;

  constructor(code: string, message: string, options: { statusCode?: number; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
    this.context = options.context ?? {};
  }
}

/** The store could not commit or answer: callers answer 503 so Capillary retries. */
export class StoreUnavailableError extends RelayError {
  constructor(cause: unknown) {
    super('STORE_UNAVAILABLE', 'The event store is unavailable; retry later', { statusCode: 503, cause });
    this.name = 'StoreUnavailableError';
  }
}

export class ConfigError extends RelayError {
  constructor(variable: string, expected: string) {
    super('CONFIG_INVALID', `${variable}: expected ${expected}`, { context: { variable } });
    this.name = 'ConfigError';
  }
}
