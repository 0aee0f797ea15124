import type { MessageOutcome } from '../delivery/types.js';

/**
 * Reading what AEP streaming ingestion answers: one 207 entry per message (by position, with
 * `statusCode` or, in some of Adobe's own fixtures, `status`, possibly a string), problem+json
 * bodies, and network errors, into the relay's per-message outcomes and short details.
 */
const MAX_DETAIL = 1_000;

/** The outcome of one `responses[]` entry, read by position. */
export function entryOutcome(id: number, entry: unknown): MessageOutcome {
  if (entry === undefined) return { id, outcome: 'retry', reason: 'http_5xx', detail: 'missing response entry' };
  if (!isRecord(entry)) return { id, outcome: 'retry', reason: 'http_5xx', detail: 'unreadable response entry' };
  const status = toStatus(entry.statusCode ?? entry.status);
  if (status !== undefined && status >= 400) {
    const detail = truncate(`${status}: ${describe(entry.message ?? entry.title ?? entry.detail ?? entry)}`);
    if (status === 400 || status === 422) return { id, outcome: 'rejected', reason: 'invalid_xdm', detail };
    if (status === 413) return { id, outcome: 'rejected', reason: 'too_large', detail };
    if (status === 429) return { id, outcome: 'retry', reason: 'http_429', detail };
    if (status === 401 || status === 403) return { id, outcome: 'retry', reason: 'auth', detail };
    if (status >= 500) return { id, outcome: 'retry', reason: 'http_5xx', detail };
    return { id, outcome: 'retry', reason: 'http_4xx', detail };
  }
  if (typeof entry.xactionId === 'string' || (status !== undefined && status >= 200 && status < 300)) {
    return { id, outcome: 'delivered' };
  }
  return { id, outcome: 'retry', reason: 'http_5xx', detail: 'response entry without xactionId or status' };
}

function toStatus(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*\d{3}\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Adobe's problem+json (`title`, `report`, `detail`) or `message`, else the start of the body. */
export function problemDetail(status: number, json: unknown, text: string): string {
  if (isRecord(json)) {
    const parts = [json.title, json.message, json.detail, json.report]
      .filter((p) => p !== undefined && p !== null && p !== '')
      .map(describe);
    if (parts.length > 0) return truncate(`HTTP ${status}: ${parts.join(': ')}`);
  }
  return truncate(text.trim() ? `HTTP ${status}: ${text.trim()}` : `HTTP ${status}`);
}

function describe(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
}

function truncate(s: string): string {
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s;
}

export function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function errorCode(err: unknown): string | undefined {
  const code = isRecord(err) || err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(err: unknown): string {
  return truncate(err instanceof Error ? err.message : String(err));
}
