import { RelayError } from '../errors.js';

/** What went wrong talking to Capillary's API, by cause. Never carries the key's secret or a token. */
export type CapillaryErrorCode =
  /** The token endpoint refused the key and secret (a wrong or revoked client). */
  | 'CAPILLARY_AUTH_REFUSED'
  /** 401 even with a fresh token. */
  | 'CAPILLARY_UNAUTHORIZED'
  /** 403: the key lacks Read permission on the webhook's resource group. */
  | 'CAPILLARY_FORBIDDEN'
  /** 404: no such consumer group (or the path is not served on this cluster). */
  | 'CAPILLARY_NOT_FOUND'
  /** Any other 4xx. */
  | 'CAPILLARY_BAD_REQUEST'
  /** 5xx, 429, a network error. */
  | 'CAPILLARY_UNAVAILABLE'
  | 'CAPILLARY_TIMEOUT'
  | 'CAPILLARY_ABORTED'
  /** A 2xx whose body is not JSON, or has none of the fields the relay reads. */
  | 'CAPILLARY_BAD_RESPONSE';

export class CapillaryApiError extends RelayError {
  declare readonly code: CapillaryErrorCode;
  readonly status: number | undefined;

  constructor(code: CapillaryErrorCode, message: string, fields: { status?: number | undefined; path: string; cause?: unknown }) {
    super(code, message, { statusCode: 502, cause: fields.cause, context: { capillaryStatus: fields.status, path: fields.path } });
    this.name = 'CapillaryApiError';
    this.status = fields.status;
  }
}

export function capillaryCodeForStatus(status: number): CapillaryErrorCode {
  if (status === 401) return 'CAPILLARY_UNAUTHORIZED';
  if (status === 403) return 'CAPILLARY_FORBIDDEN';
  if (status === 404) return 'CAPILLARY_NOT_FOUND';
  if (status === 408 || status === 429 || status >= 500) return 'CAPILLARY_UNAVAILABLE';
  return 'CAPILLARY_BAD_REQUEST';
}

const MAX_TEXT = 300;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Capillary answers errors as `{"errors":[{"code","message"}],"warnings":[]}` on its v3 APIs and as
 * `{"message"}` or `{"status":{"message"}}` elsewhere (unconfirmed which where): read whichever is there,
 * capped, so a page of HTML never reaches a log.
 */
export function readCapillaryError(text: string): string | undefined {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    const plain = text.trim();
    return plain && !plain.startsWith('<') ? cap(plain) : undefined;
  }
  if (!isRecord(json)) return undefined;
  const first = Array.isArray(json.errors) && isRecord(json.errors[0]) ? json.errors[0] : undefined;
  const status = isRecord(json.status) ? json.status : undefined;
  const parts = [first?.code, first?.message, json.message, status?.message, json.error_description, typeof json.error === 'string' ? json.error : undefined]
    .filter((p): p is string | number => typeof p === 'string' || typeof p === 'number')
    .map(String);
  return parts.length > 0 ? cap([...new Set(parts)].join(': ')) : undefined;
}

function cap(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}
