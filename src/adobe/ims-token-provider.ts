import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { recordHttpStatus, urlAttributes, withClientSpan } from '../tracing/spans.js';
import { ImsTokenError } from './ims-token-error.js';
import { tokenLifetime } from './ims-token-lifetime.js';

/**
 * One cached Adobe IMS access token (OAuth server-to-server, client credentials), shared by the
 * process: single flight, refreshed in the background ahead of expiry, retried with backoff while the
 * current token is still served. Shape after platformatic/undici-oidc-interceptor.
 * Behaviour and IMS quirks: /work/shared/reference/adobe-streaming-and-ims.md.
 */
export interface TokenProvider {
  /** A valid token, minting one (once, however many callers) when none is cached. */
  getToken(signal?: AbortSignal): Promise<string>;
  /** After Adobe answered 401/403 with `token`: drop it if it is still the cached one. */
  invalidate(token: string): void;
  /** Adobe accepted `token`: if it is refused later, that is a new problem, not a refresh storm. */
  accepted(token: string): void;
  status(): { valid: boolean; expiresAt?: number; lastErrorCode?: string };
  close(): Promise<void>;
}

export { ImsTokenError, type ImsErrorCode } from './ims-token-error.js';

export interface ImsTokenProviderDeps {
  imsUrl: string;
  clientId: string;
  clientSecret: string;
  /** Comma-separated, as IMS wants it. */
  scopes: string;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** How long before expiry to refresh; default 5 min, and never more than 10% of the token's lifetime. */
  refreshAheadMs?: number;
  requestTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_BASE_MS = 1_000;
const DEFAULT_RETRY_MAX_MS = 60_000;
const MAX_ERROR_TEXT = 300;
/** A token said to live less than this is suspect: its successors are minted at the backoff's pace. */
export const MIN_TRUSTED_LIFETIME_MS = 60_000;

interface CachedToken {
  token: string;
  mintedAt: number;
  /** Adobe has accepted it at least once. */
  accepted?: boolean;
  expiresAt: number;
  refreshAt: number;
}

export function createImsTokenProvider(deps: ImsTokenProviderDeps): TokenProvider {
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const refreshAheadMs = deps.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
  const requestTimeoutMs = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const retryBaseMs = deps.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const retryMaxMs = deps.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
  const { imsTokenRequests, imsTokenExpiry } = deps.metrics;

  let current: CachedToken | undefined;
  let inFlight: Promise<CachedToken> | undefined;
  let inFlightAbort: AbortController | undefined;
  /** Refresh-ahead or retry timer; at most one at a time. */
  let timer: NodeJS.Timeout | undefined;
  let consecutiveFailures = 0;
  /** Tokens Adobe refused soon after they were minted, in a row (a 401/403 that a new token does not cure). */
  let forcedRefreshes = 0;
  /** Tokens in a row that IMS said live under MIN_TRUSTED_LIFETIME_MS. */
  let shortLivedTokens = 0;
  let lastError: ImsTokenError | undefined;
  /**
   * No new mint before this: after an IMS failure, after Adobe refused a young token twice in a row,
   * or after a short-lived token. One gate and one backoff for all three, so no mix of them can make
   * the relay ask IMS in a loop.
   */
  let nextAttemptAt = 0;
  let closed = false;

  const isValid = (t: CachedToken | undefined, at = now()): t is CachedToken => t !== undefined && at < t.expiresAt;

  // Computed when scraped: a value set only on token calls goes stale on an idle relay, and would
  // hide a token running out while IMS keeps failing (prom-client awaits a gauge's collect()).
  (imsTokenExpiry as unknown as { collect: () => void }).collect = () => updateExpiryGauge();

  function updateExpiryGauge(): void {
    imsTokenExpiry.set(current ? Math.max(0, (current.expiresAt - now()) / 1000) : 0);
  }

  function clearTimer(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  function schedule(at: number): void {
    clearTimer();
    if (closed) return;
    // setTimeout cannot wait past ~24.8 days; lifetimes are clamped well below.
    timer = setTimeout(() => {
      timer = undefined;
      void backgroundMint();
    }, Math.max(0, at - now()));
  }

  /** Delay before the `step`-th retry (1-based). */
  function backoffMs(step: number): number {
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(Math.max(step, 1) - 1, 30));
    // "Equal jitter": at least half the step, so retries never collapse to zero delay.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  async function backgroundMint(): Promise<void> {
    try {
      await mint();
    } catch {
      // Logged and rescheduled by mint(); the cached token (if any) keeps being served.
    }
  }

  function mint(): Promise<CachedToken> {
    if (inFlight) return inFlight;
    if (closed) return Promise.reject(closedError());
    const abort = new AbortController();
    inFlightAbort = abort;
    clearTimer();
    const p = withClientSpan('POST ims token', urlAttributes('POST', deps.imsUrl), () => requestToken(abort.signal)).then(
      (token) => {
        current = token;
        consecutiveFailures = 0;
        lastError = undefined;
        nextAttemptAt = 0;
        const lifetimeMs = token.expiresAt - token.mintedAt;
        if (lifetimeMs < MIN_TRUSTED_LIFETIME_MS) {
          // Refreshing 10% ahead of a 1 ms life would ask IMS again at once, for ever: pace it instead.
          shortLivedTokens += 1;
          nextAttemptAt = token.mintedAt + backoffMs(shortLivedTokens);
          log.warn({ lifetimeMs, shortLivedTokens, nextMintInMs: nextAttemptAt - now() }, 'IMS token lives under a minute; next one paced by the backoff');
        } else {
          shortLivedTokens = 0;
        }
        updateExpiryGauge();
        schedule(Math.max(token.refreshAt, nextAttemptAt));
        return token;
      },
      (err: unknown) => {
        const error = err instanceof ImsTokenError ? err : new ImsTokenError('IMS_UNAVAILABLE', 'IMS token request failed');
        if (closed) throw error;
        consecutiveFailures += 1;
        lastError = error;
        const delay = backoffMs(consecutiveFailures);
        nextAttemptAt = now() + delay;
        const stillValid = isValid(current);
        // While a still-valid token is served, keep trying in the background; once it is gone,
        // the next getToken tries (no earlier than nextAttemptAt).
        if (stillValid) schedule(Math.min(nextAttemptAt, current!.expiresAt));
        log.warn(
          {
            code: error.code,
            status: error.status,
            imsError: error.imsError,
            debugId: error.debugId,
            consecutiveFailures,
            retryInMs: delay,
            servingCachedToken: stillValid,
          },
          'IMS token request failed',
        );
        throw error;
      },
    );
    inFlight = p.finally(() => {
      inFlight = undefined;
      if (inFlightAbort === abort) inFlightAbort = undefined;
    });
    return inFlight;
  }

  async function requestToken(signal: AbortSignal): Promise<CachedToken> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: deps.clientId,
      client_secret: deps.clientSecret,
      scope: deps.scopes,
    }).toString();
    const timeout = new AbortController();
    const t = setTimeout(() => timeout.abort(), requestTimeoutMs);
    const combined = AbortSignal.any([signal, timeout.signal]);
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(deps.imsUrl, {
        method: 'POST',
        dispatcher: deps.dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: combined,
      });
      recordHttpStatus(res.statusCode);
      text = await res.body.text();
    } catch (err) {
      imsTokenRequests.inc({ outcome: 'network_error' });
      if (signal.aborted) throw closedError();
      const what = timeout.signal.aborted ? `timed out after ${requestTimeoutMs} ms` : describeNetworkError(err);
      throw new ImsTokenError('IMS_UNAVAILABLE', `IMS token request failed: ${what}`);
    } finally {
      clearTimeout(t);
    }

    const debugId = headerValue(res.headers['x-debug-id']);
    let json: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      /* not JSON */
    }

    if (res.statusCode < 200 || res.statusCode >= 300) {
      imsTokenRequests.inc({ outcome: 'error' });
      const imsError = typeof json?.error === 'string' ? scrub(json.error) : undefined;
      const description = typeof json?.error_description === 'string' ? scrub(json.error_description) : undefined;
      // 4xx is our configuration (invalid_client, invalid_scope); 408/429 are IMS being busy.
      const rejected = res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429;
      const detail = [imsError, description].filter(Boolean).join(': ') || `HTTP ${res.statusCode}`;
      throw new ImsTokenError(
        rejected ? 'IMS_REJECTED' : 'IMS_UNAVAILABLE',
        `IMS refused the token request (HTTP ${res.statusCode}): ${detail}`,
        { status: res.statusCode, imsError, debugId },
      );
    }

    const accessToken = json?.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      imsTokenRequests.inc({ outcome: 'error' });
      throw new ImsTokenError('IMS_UNAVAILABLE', 'IMS answered without an access_token', {
        status: res.statusCode,
        debugId,
      });
    }
    imsTokenRequests.inc({ outcome: 'success' });
    const at = now();
    const life = tokenLifetime(deps.imsUrl, { access_token: accessToken, expires_in: json?.expires_in }, at);
    if (life.clamped) {
      log.warn({ source: life.source, lifetimeMs: life.lifetimeMs, debugId }, 'IMS token lifetime looked wrong; using a safe value');
    }
    const ahead = Math.min(refreshAheadMs, life.lifetimeMs * 0.1);
    log.debug({ expiresAt: new Date(life.expiresAt).toISOString(), lifetimeSource: life.source }, 'IMS token minted');
    return { token: accessToken, mintedAt: at, expiresAt: life.expiresAt, refreshAt: life.expiresAt - ahead };
  }

  /** IMS may echo what it was sent; make sure the secret never reaches a message or log. */
  function scrub(text: string): string {
    let out = text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
    if (deps.clientSecret) out = out.split(deps.clientSecret).join('[redacted]');
    return out;
  }

  function closedError(): ImsTokenError {
    return new ImsTokenError('IMS_CLOSED', 'IMS token provider is closed');
  }

  function waitWithSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(new ImsTokenError('IMS_ABORTED', 'token request aborted by caller'));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new ImsTokenError('IMS_ABORTED', 'token request aborted by caller'));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    async getToken(signal) {
      if (closed) throw closedError();
      const at = now();
      if (isValid(current, at)) {
        const token = current;
        // The refresh timer normally does this; this catches a late timer (or an injected clock).
        if (at >= token.refreshAt && !inFlight && at >= nextAttemptAt) void backgroundMint();
        updateExpiryGauge();
        return token.token;
      }
      if (!inFlight && at < nextAttemptAt) {
        // No token to fall back on and IMS was asked a moment ago: answer now instead of asking again.
        if (!lastError) throw new ImsTokenError('IMS_BACKOFF', `No valid IMS token; next token request in ${nextAttemptAt - at} ms`);
        const { status, imsError, debugId } = lastError;
        throw new ImsTokenError(lastError.code, `${lastError.message} (next attempt in ${nextAttemptAt - at} ms)`, {
          status,
          imsError,
          debugId,
        });
      }
      const token = await waitWithSignal(mint(), signal);
      return token.token;
    },

    invalidate(token) {
      if (current?.token !== token) return;
      const refused = current;
      current = undefined;
      if (!inFlight) clearTimer();
      // A token Adobe accepted before refusing it (or that served longer than the backoff ceiling)
      // starts a fresh count: the first refusal mints at once (a revoked or expired token is cured
      // by a new one). New tokens refused again and again mean a new token does not help (a 403 for
      // a missing permission): further mints share the backoff, so every batch cannot mint its own.
      const at = now();
      if (refused.accepted || at - refused.mintedAt >= retryMaxMs) forcedRefreshes = 0;
      forcedRefreshes += 1;
      if (forcedRefreshes > 1) nextAttemptAt = Math.max(nextAttemptAt, refused.mintedAt + backoffMs(forcedRefreshes - 1));
      updateExpiryGauge();
      log.info({ forcedRefreshes, nextMintInMs: Math.max(0, nextAttemptAt - at) }, 'IMS token invalidated after Adobe refused it');
    },

    accepted(token) {
      if (current?.token === token) current.accepted = true;
    },

    status() {
      const valid = isValid(current);
      const out: { valid: boolean; expiresAt?: number; lastErrorCode?: string } = { valid };
      if (current) out.expiresAt = current.expiresAt;
      if (lastError) out.lastErrorCode = lastError.code;
      updateExpiryGauge();
      return out;
    },

    async close() {
      if (closed) return;
      closed = true;
      clearTimer();
      const pending = inFlight;
      inFlightAbort?.abort();
      if (pending) await pending.catch(() => undefined);
      current = undefined;
      updateExpiryGauge();
    },
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function describeNetworkError(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    const message = (err as { message?: unknown }).message;
    if (typeof code === 'string') return code;
    if (typeof message === 'string') return message.slice(0, MAX_ERROR_TEXT);
  }
  return 'network error';
}
