import type { Logger } from 'pino';
import { tracingSettings } from './tracing-env.js';
import type { Tracing } from './types.js';

export type { Tracing };

/**
 * Starts tracing when the OTEL_* variables configure an OTLP endpoint, else returns undefined
 * without loading any SDK code (the import below is lazy): with tracing off the relay runs exactly
 * as before. Call before the logger is created, so its mixin can add trace ids (see createLogger).
 */
export async function startTracing(env: Record<string, string | undefined>, logger?: Logger): Promise<Tracing | undefined> {
  const settings = tracingSettings(env);
  if (!settings) return undefined;
  const { startTracingSdk } = await import('./tracing-sdk.js');
  return startTracingSdk(settings, env, logger);
}
