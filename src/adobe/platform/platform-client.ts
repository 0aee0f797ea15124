import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { recordHttpStatus, urlAttributes, withClientSpan } from '../../tracing/spans.js';
import type { TokenProvider } from '../ims-token-provider.js';
import { codeForStatus, PlatformApiError, readAdobeError, type PlatformErrorCode } from './platform-error.js';
import { withoutTrailingSlashes } from '../../urls.js';

export { PlatformApiError, readAdobeError, type PlatformErrorCode } from './platform-error.js';

/**
 * A client for the Platform APIs on platform.adobe.io (Schema Registry, Catalog, Identity, Flow
 * Service, Observability Insights, Sandboxes), with the route's own IMS token provider: the same
 * credential and the same cached token as its deliveries, so reading the customer's setup costs no
 * extra token. Common headers, a deadline on every call, one token refresh on 401, and errors that
 * carry Adobe's `error_code` but never the token.
 * Wire behaviour: /work/shared/reference/adobe-platform-apis.md.
 */
/** Where each service lives on platform.adobe.io (the base paths of Adobe's specs). */
export const PLATFORM_PATHS = {
  sandboxes: '/data/foundation/sandbox-management/',
  schemaRegistry: '/data/foundation/schemaregistry',
  catalog: '/data/foundation/catalog',
  dataAccess: '/data/foundation/export',
  identity: '/data/core/idnamespace',
  flowService: '/data/foundation/flowservice',
  insights: '/data/infrastructure/observability/insights',
} as const;

/** The Accept the Schema Registry needs for a schema with every `$ref` resolved (only version 1 exists). */
export const XED_FULL = 'application/vnd.adobe.xed-full+json; version=1';

export interface PlatformClientDeps {
  /** `https://platform.adobe.io` (AEP_PLATFORM_URL); a path prefix is kept. */
  baseUrl: string;
  /** AEP_SANDBOX_NAME; sent lower-case, as Adobe requires. */
  sandboxName: string;
  /** The credential's client id, sent as x-api-key. */
  clientId: string;
  /** IMS org id (`...@AdobeOrg`), sent as x-gw-ims-org-id. */
  orgId: string;
  tokens: TokenProvider;
  dispatcher: Dispatcher;
  /** Per call, token included. */
  timeoutMs: number;
  logger: Logger;
}

export interface GetOptions {
  /** Default `application/json`. The Schema Registry wants a versioned one (`xed-full+json; version=1`). */
  accept?: string;
  /** Added to the URL; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

export interface PlatformClient {
  readonly sandboxName: string;
  get<T>(path: string, options?: GetOptions): Promise<T>;
  post<T>(path: string, body: unknown, options?: { signal?: AbortSignal }): Promise<T>;
  /** The body as text: failed-record files are one JSON record a line, not one JSON document. */
  getText(path: string, options?: GetOptions): Promise<string>;
}

interface Call {
  method: 'GET' | 'POST';
  path: string;
  accept: string;
  query: GetOptions['query'];
  body: string | undefined;
  signal: AbortSignal | undefined;
  /** Answer the body as text instead of parsing it. */
  text?: boolean;
}

const MAX_LOGGED_TEXT = 300;

export function createPlatformClient(deps: PlatformClientDeps): PlatformClient {
  const base = withoutTrailingSlashes(deps.baseUrl);
  const sandboxName = deps.sandboxName.toLowerCase();
  const log = deps.logger;

  function urlOf(path: string, query: GetOptions['query']): string {
    const url = new URL(base + (path.startsWith('/') ? path : `/${path}`));
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  function fail(call: Call, code: PlatformErrorCode, message: string, fields: { status?: number; errorCode?: string; requestId?: string; cause?: unknown } = {}): PlatformApiError {
    return new PlatformApiError(code, `${call.method} ${call.path}: ${message}`, { ...fields, method: call.method, path: call.path });
  }

  /** One token for the call, within the call's deadline. */
  async function tokenFor(call: Call, signal: AbortSignal): Promise<string> {
    try {
      return await deps.tokens.getToken(signal);
    } catch (error) {
      if (call.signal?.aborted) throw fail(call, 'PLATFORM_ABORTED', 'aborted while waiting for an IMS token');
      if (signal.aborted) throw fail(call, 'PLATFORM_TIMEOUT', `no IMS token within ${deps.timeoutMs} ms`);
      const code = (error as { code?: unknown }).code;
      throw fail(call, 'PLATFORM_NO_TOKEN', `no IMS token (${typeof code === 'string' ? code : 'unknown error'})`, { cause: error });
    }
  }

  async function once(call: Call, token: string, signal: AbortSignal): Promise<{ status: number; text: string; requestId: string | undefined }> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      'x-api-key': deps.clientId,
      'x-gw-ims-org-id': deps.orgId,
      'x-sandbox-name': sandboxName,
      accept: call.accept,
    };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await request(urlOf(call.path, call.query), { method: call.method, dispatcher: deps.dispatcher, headers, body: call.body, signal });
      recordHttpStatus(res.statusCode);
      // Read to the end even on errors: undici reuses the socket only after the body is consumed.
      const text = await res.body.text();
      const requestId = res.headers['x-request-id'];
      return { status: res.statusCode, text, requestId: Array.isArray(requestId) ? requestId[0] : requestId };
    } catch (error) {
      if (call.signal?.aborted) throw fail(call, 'PLATFORM_ABORTED', 'aborted by the caller');
      if (signal.aborted) throw fail(call, 'PLATFORM_TIMEOUT', `no answer within ${deps.timeoutMs} ms`);
      const code = (error as { code?: unknown }).code;
      throw fail(call, 'PLATFORM_UNAVAILABLE', `network error (${typeof code === 'string' ? code : 'unknown'})`, { cause: error });
    }
  }

  async function perform<T>(call: Call): Promise<T> {
    // One deadline for the whole call: token, request, and the one retry after a 401.
    const signal = AbortSignal.any([...(call.signal ? [call.signal] : []), AbortSignal.timeout(deps.timeoutMs)]);
    let token = await tokenFor(call, signal);
    let answer = await once(call, token, signal);
    if (answer.status === 401) {
      // The cached token was revoked or has expired early: one fresh token, one retry (as the DCS sink).
      deps.tokens.invalidate(token);
      log.warn({ method: call.method, path: call.path }, 'Platform API refused the IMS token; retrying once with a fresh one');
      token = await tokenFor(call, signal);
      answer = await once(call, token, signal);
    }
    const { status, requestId } = answer;
    // Adobe never echoes a token, but a proxy might: nothing read from an answer may carry it out.
    const text = answer.text.split(token).join('[redacted]');
    if (status >= 200 && status < 300) {
      deps.tokens.accepted(token);
      if (call.text) return text as T;
      if (status === 204 || text.trim() === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw fail(call, 'PLATFORM_BAD_RESPONSE', `HTTP ${status} with a body that is not JSON`, { status, ...(requestId ? { requestId } : {}) });
      }
    }
    const { errorCode, message } = readAdobeError(text);
    const error = fail(call, codeForStatus(status), `HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${message ? `: ${message}` : ''}`, {
      status,
      ...(errorCode ? { errorCode } : {}),
      ...(requestId ? { requestId } : {}),
    });
    log.debug({ method: call.method, path: call.path, status, errorCode, requestId, detail: message?.slice(0, MAX_LOGGED_TEXT) }, 'Platform API error');
    throw error;
  }

  function traced<T>(call: Call): Promise<T> {
    return withClientSpan(`${call.method} platform`, { ...urlAttributes(call.method, urlOf(call.path, undefined)), 'aep.sandbox': sandboxName }, () => perform<T>(call));
  }

  return {
    sandboxName,
    get<T>(path: string, options: GetOptions = {}) {
      return traced<T>({ method: 'GET', path, accept: options.accept ?? 'application/json', query: options.query, body: undefined, signal: options.signal });
    },
    getText(path: string, options: GetOptions = {}) {
      return traced<string>({ method: 'GET', path, accept: options.accept ?? 'application/json', query: options.query, body: undefined, signal: options.signal, text: true });
    },
    post<T>(path: string, body: unknown, options: { signal?: AbortSignal } = {}) {
      return traced<T>({ method: 'POST', path, accept: 'application/json', query: undefined, body: JSON.stringify(body), signal: options.signal });
    },
  };
}
