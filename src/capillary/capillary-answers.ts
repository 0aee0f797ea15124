/**
 * Readers of Capillary's answers, tolerant on purpose: the reference pages showed only parts of them
 * (/work/shared/reference/capillary-apis.md), so each field is looked for under the names seen or
 * likely, and what is missing stays null rather than failing the whole read.
 *
 * Shapes assumed (and served by test/helpers/fake-capillary.ts):
 * - metrics (geteventmatrix, documented): `{"data":{"totalEvents","deliveredEvents","failedEvents",
 *   "retryingEvents","pendingEvents","averageDeliveryTime","startDate","endDate"},"errors":[],"warnings":[]}`.
 * - logs (geteventsbyconsumergroupid, UNCONFIRMED): `{"data":{"logs":[{"eventId","eventType","status",
 *   "eventTime","apiRequestId","httpStatus","errorMessage"}],"totalElements","page","size"}}`; the list is
 *   also looked for at `data`, `data.events|content|records|data`, and the top level; `eventType` may be
 *   `<orgId>_<eventName>` (as the internal envelope writes it) or carry `eventName` beside it; times may
 *   be epoch ms, epoch seconds or ISO 8601; `status` is read case-insensitively (FAILED, failed...).
 */

export interface DeliveryCounts {
  total: number | null;
  delivered: number | null;
  failed: number | null;
  retrying: number | null;
  pending: number | null;
}

export interface DeliveryLogEntry {
  /** Capillary's event id (what the relay stores as the event id), when the entry carries one. */
  eventId: string | null;
  eventName: string | null;
  /** Upper case, as Capillary writes it (FAILED, DELIVERED, RETRYING...). */
  status: string | null;
  /** Epoch ms. */
  at: number | null;
  /** Capillary's API request id: what its UI and support search by. */
  requestId: string | null;
  /** The HTTP status the relay answered Capillary's last attempt, when the entry says. */
  httpStatus: number | null;
  error: string | null;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_TEXT = 300;

const countOf = (v: unknown): number | null => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.trunc(n) : null;
};
const textOf = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, MAX_TEXT) : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);
const first = (o: Json, names: string[]): unknown => names.map((n) => o[n]).find((v) => v !== undefined && v !== null);

/** The counts, or undefined when the answer has none of them (then it is not the metrics answer). */
export function readDeliveryCounts(json: unknown): DeliveryCounts | undefined {
  const data = isRecord(json) && isRecord(json.data) ? json.data : isRecord(json) && Array.isArray(json.data) && isRecord(json.data[0]) ? json.data[0] : isRecord(json) ? json : undefined;
  if (!data) return undefined;
  const counts: DeliveryCounts = {
    total: countOf(first(data, ['totalEvents', 'total', 'totalCount'])),
    delivered: countOf(first(data, ['deliveredEvents', 'delivered', 'successEvents', 'successfulEvents'])),
    failed: countOf(first(data, ['failedEvents', 'failed', 'failureEvents'])),
    retrying: countOf(first(data, ['retryingEvents', 'retrying', 'retryEvents'])),
    pending: countOf(first(data, ['pendingEvents', 'pending'])),
  };
  return Object.values(counts).every((v) => v === null) ? undefined : counts;
}

/** Epoch ms from epoch ms, epoch seconds or an ISO 8601 string. */
function timeOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v < 1e11 ? Math.trunc(v * 1000) : Math.trunc(v);
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+$/.test(v.trim())) return timeOf(Number(v));
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

function entryOf(o: Json): DeliveryLogEntry {
  const type = textOf(first(o, ['eventName', 'eventType', 'event']));
  // The internal envelope's eventType is `<orgId>_<eventName>`: the name is what an operator knows.
  const eventName = type === null ? null : (/^\d+_(.+)$/.exec(type)?.[1] ?? type);
  const status = textOf(first(o, ['status', 'deliveryStatus', 'eventStatus', 'state']));
  return {
    eventId: textOf(first(o, ['eventId', 'event_id', 'eventLogId', 'id'])),
    eventName,
    status: status === null ? null : status.toUpperCase(),
    at: timeOf(first(o, ['eventTime', 'createdOn', 'createdAt', 'eventDate', 'timestamp', 'timeStamp'])),
    requestId: textOf(first(o, ['apiRequestId', 'requestId', 'requestid', 'api_request_id'])),
    httpStatus: countOf(first(o, ['httpStatus', 'responseCode', 'statusCode', 'httpStatusCode'])),
    error: textOf(first(o, ['errorMessage', 'error', 'failureReason', 'response', 'message'])),
  };
}

const LIST_KEYS = ['logs', 'events', 'content', 'records', 'data', 'items'];

/** The entries of one page of the delivery log, or undefined when no list is found. */
export function readDeliveryLog(json: unknown): DeliveryLogEntry[] | undefined {
  const candidates: unknown[] = [];
  if (isRecord(json)) {
    candidates.push(json.data);
    if (isRecord(json.data)) for (const key of LIST_KEYS) candidates.push(json.data[key]);
    for (const key of LIST_KEYS) candidates.push(json[key]);
  } else candidates.push(json);
  const list = candidates.find((c): c is unknown[] => Array.isArray(c));
  return list?.filter(isRecord).map(entryOf);
}

/** FAILED, FAILURE, DELIVERY_FAILED...: an event Capillary gave up on. */
export const isGaveUp = (entry: DeliveryLogEntry) => entry.status !== null && /FAIL/.test(entry.status);
