import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { recordHttpStatus, urlAttributes, withClientSpan } from '../tracing/spans.js';
import { CapillaryApiError, readCapillaryError } from './capillary-error.js';
import { withoutTrailingSlashes } from '../urls.js';

/**
 * Capillary's OAuth token for API calls (not the webhook): `POST /v3/oauth/token/generate` with the
 * client key and secret answers `{"data":{"accessToken","ttlSeconds"}}` (tokens live at most 60
 * minutes; /work/shared/reference/capillary-apis.md). One token cached for its ttlSeconds and
 * replaced a little early (a fifth of its life, at most a minute), one request however many callers
 * ask at once (single flight), dropped when the API refuses it (401).
 */
export interface CapillaryTokens {
  getToken(signal?: AbortSignal): Promise<string>;
  /** After a 401 with `token`: drop it if it is still the cached one. */
  invalidate(token: string): void;
}

export const TOKEN_PATH = '/v3/oauth/token/generate';
/** When the answer names no lifetime: the documented example's, the shortest seen. */
export const DEFAULT_TTL_SECONDS = 300;
const MAX_REFRESH_AHEAD_MS = 60_000;

export interface CapillaryTokenDeps {
  baseUrl: string;
  key: string;
  secret: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  logger: Logger;
  now?: () => number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The token and its lifetime from the answer, wherever the cluster puts them (data, or top level). */
export function readTokenAnswer(json: unknown): { token: string; ttlSeconds: number } | undefined {
  const data = isRecord(json) && isRecord(json.data) ? json.data : isRecord(json) ? json : undefined;
  const token = data?.accessToken ?? data?.access_token ?? data?.token;
  if (typeof token !== 'string' || token === '') return undefined;
  const ttl = Number(data?.ttlSeconds ?? data?.expiresIn ?? data?.expires_in);
  return { token, ttlSeconds: Number.isFinite(ttl) && ttl > 0 ? ttl : DEFAULT_TTL_SECONDS };
}

export function createCapillaryTokens(deps: CapillaryTokenDeps): CapillaryTokens {
  const now = deps.now ?? Date.now;
  const url = `${withoutTrailingSlashes(deps.baseUrl)}${TOKEN_PATH}`;
  let cached: { token: string; refreshAt: number; expiresAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const fail = (code: 'CAPILLARY_AUTH_REFUSED' | 'CAPILLARY_UNAVAILABLE' | 'CAPILLARY_TIMEOUT' | 'CAPILLARY_BAD_RESPONSE', message: string, status?: number, cause?: unknown) =>
    new CapillaryApiError(code, `POST ${TOKEN_PATH}: ${message}`, { status, path: TOKEN_PATH, cause });

  async function mint(): Promise<string> {
    const signal = AbortSignal.timeout(deps.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: deps.dispatcher,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ key: deps.key, secret: deps.secret }),
        signal,
      });
      recordHttpStatus(res.statusCode);
      status = res.statusCode;
      text = await res.body.text();
    } catch (error) {
      if (signal.aborted) throw fail('CAPILLARY_TIMEOUT', `no answer within ${deps.timeoutMs} ms`);
      const code = (error as { code?: unknown }).code;
      throw fail('CAPILLARY_UNAVAILABLE', `network error (${typeof code === 'string' ? code : 'unknown'})`, undefined, error);
    }
    if (status < 200 || status >= 300) {
      // The secret is never echoed by Capillary, but a proxy might: keep it out of what is reported.
      const detail = readCapillaryError(text)?.split(deps.secret).join('[redacted]');
      const code = status === 408 || status === 429 || status >= 500 ? 'CAPILLARY_UNAVAILABLE' : 'CAPILLARY_AUTH_REFUSED';
      throw fail(code, `HTTP ${status}${detail ? `: ${detail}` : ''}`, status);
    }
    let answer: ReturnType<typeof readTokenAnswer>;
    try {
      answer = readTokenAnswer(JSON.parse(text));
    } catch {
      answer = undefined;
    }
    if (!answer) throw fail('CAPILLARY_BAD_RESPONSE', `HTTP ${status} without data.accessToken`, status);
    const at = now();
    const lifeMs = answer.ttlSeconds * 1000;
    cached = { token: answer.token, expiresAt: at + lifeMs, refreshAt: at + lifeMs - Math.min(MAX_REFRESH_AHEAD_MS, lifeMs / 5) };
    deps.logger.debug({ ttlSeconds: answer.ttlSeconds }, 'Capillary API token obtained');
    return answer.token;
  }

  return {
    getToken(signal) {
      signal?.throwIfAborted();
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      inFlight ??= withClientSpan('POST capillary token', urlAttributes('POST', url), mint).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
  };
}
