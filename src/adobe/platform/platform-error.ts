import { RelayError } from '../../errors.js';

/**
 * What went wrong talking to platform.adobe.io, by cause: the gateway or the service refused us
 * (status and Adobe's own `error_code` say why), no answer came, or the answer could not be read.
 */
export type PlatformErrorCode =
  /** 401 even after a fresh token. */
  | 'PLATFORM_UNAUTHORIZED'
  /** 403: no permission, not entitled, or no product profile (`errorCode` tells which). */
  | 'PLATFORM_FORBIDDEN'
  | 'PLATFORM_NOT_FOUND'
  /** 406: the Accept header names a format or version the resource does not have. */
  | 'PLATFORM_NOT_ACCEPTABLE'
  /** Any other 4xx: the request itself is wrong (a missing header, a bad filter). */
  | 'PLATFORM_BAD_REQUEST'
  /** 5xx, 429, a network error. */
  | 'PLATFORM_UNAVAILABLE'
  | 'PLATFORM_TIMEOUT'
  | 'PLATFORM_ABORTED'
  /** No IMS token could be had for the call. */
  | 'PLATFORM_NO_TOKEN'
  /** A 2xx whose body is not JSON. */
  | 'PLATFORM_BAD_RESPONSE';

export interface PlatformErrorFields {
  status?: number | undefined;
  /** Adobe's code: gateway `error_code` (403010...), `errorCode` (INSGHT-1000-400...). */
  errorCode?: string | undefined;
  method: string;
  /** The path without its query string. */
  path: string;
  /** Adobe's `x-request-id`, what its support asks for. */
  requestId?: string | undefined;
  cause?: unknown;
}

/** Never carries a token, the API key's secret or a request body: only status, codes and Adobe's own words. */
export class PlatformApiError extends RelayError {
  declare readonly code: PlatformErrorCode;
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly requestId: string | undefined;

  constructor(code: PlatformErrorCode, message: string, fields: PlatformErrorFields) {
    super(code, message, {
      statusCode: 502,
      cause: fields.cause,
      context: { platformStatus: fields.status, errorCode: fields.errorCode, method: fields.method, path: fields.path, requestId: fields.requestId },
    });
    this.name = 'PlatformApiError';
    this.status = fields.status;
    this.errorCode = fields.errorCode;
    this.method = fields.method;
    this.path = fields.path;
    this.requestId = fields.requestId;
  }
}

/** The error code for an HTTP status Adobe answered. */
export function codeForStatus(status: number): PlatformErrorCode {
  if (status === 401) return 'PLATFORM_UNAUTHORIZED';
  if (status === 403) return 'PLATFORM_FORBIDDEN';
  if (status === 404) return 'PLATFORM_NOT_FOUND';
  if (status === 406) return 'PLATFORM_NOT_ACCEPTABLE';
  if (status === 408 || status === 429 || status >= 500) return 'PLATFORM_UNAVAILABLE';
  return 'PLATFORM_BAD_REQUEST';
}

const MAX_TEXT = 300;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);

/**
 * Adobe's services answer errors in several shapes: the gateway `{"error_code":"403010","message"}`,
 * problem+json `{"type","title","status","detail"}` (Schema Registry, Catalog), Observability
 * `{"errorCode":"INSGHT-1001-400","title","details"}`, Identity with an `errorChain[]`, or plain
 * text from a proxy. Read whichever is there; the text is capped so a page of HTML stays out of logs.
 */
export function readAdobeError(text: string): { errorCode?: string; message?: string } {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!isRecord(json)) {
    const plain = text.trim();
    return plain && !plain.startsWith('<') ? { message: cap(plain) } : {};
  }
  const chain = Array.isArray(json.errorChain) && isRecord(json.errorChain[0]) ? json.errorChain[0] : undefined;
  const report = isRecord(json.report) ? json.report : undefined;
  const errorCode = str(json.error_code) ?? str(json.errorCode) ?? str(chain?.errorCode) ?? (typeof json.code === 'string' ? str(json.code) : undefined) ?? str(report?.errorCode);
  const parts = [json.title, json.detail ?? json.details, json.message ?? json.errorMessage ?? json.error_description ?? chain?.errorMessage]
    .map(str)
    .filter((p): p is string => p !== undefined);
  const message = parts.length > 0 ? cap([...new Set(parts)].join(': ')) : undefined;
  return { ...(errorCode ? { errorCode: cap(errorCode) } : {}), ...(message ? { message } : {}) };
}

function cap(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}
