import type { MessageKind } from '../mapping/types.js';
import type { AccountingMessage } from '../store/accounting-types.js';
import type { Store } from '../store/types.js';
import type { Window } from './windows.js';

/**
 * Failed records back to the events they came from (issue 17). An ExperienceEvent's XDM `_id` is
 * its Capillary eventId (percent-encoded when it is not a valid uri-reference: mapping's xdmEventId),
 * so that is certain. A profile record has no `_id`: it is certain when it carries the event id in its
 * tenant fields (`_<tenant>.capillary.eventId`), else when its member (the loyaltyID, or the customer
 * namespace of its identityMap) has exactly one profile record that Adobe acknowledged in the window.
 * Anything less is counted, never guessed.
 */

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

export interface FailedRecord {
  batchId: string;
  record: Json;
}

export interface Match {
  failed: FailedRecord;
  /** Adobe's validation messages, as a dead letter's error. */
  error: string;
  /** The event the record came from, when certain. */
  eventId: string | undefined;
  message: AccountingMessage | undefined;
}

const MAX_ERROR = 1_000;

/** `_validationErrors` as one line: each message with where it points, and the batch, for Adobe's support. */
export function validationError(failed: FailedRecord): string {
  const errors = Array.isArray(failed.record._validationErrors) ? failed.record._validationErrors.filter(isRecord) : [];
  const parts = errors.map((e) => {
    const text = str(e.message) ?? str(e.keyword) ?? 'invalid';
    const at = str(e.pointerToViolation);
    return at ? `${text} (at ${at})` : text;
  });
  const text = `Adobe failed the record after accepting it (batch ${failed.batchId}): ${parts.length > 0 ? parts.join('; ') : 'no validation message given'}`;
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR)}…` : text;
}

/** The eventIds an ExperienceEvent `_id` may stand for: itself, and its percent-decoded form. */
export function eventIdsOfXdmId(id: string): string[] {
  let decoded: string | undefined;
  try {
    decoded = decodeURIComponent(id);
  } catch {
    decoded = undefined;
  }
  return decoded !== undefined && decoded !== id ? [id, decoded] : [id];
}

/** `_<tenant>.capillary.eventId` of a record, whichever the tenant key. */
function tenantEventId(record: Json): string | undefined {
  for (const [key, value] of Object.entries(record)) {
    if (!key.startsWith('_') || !isRecord(value) || !isRecord(value.capillary)) continue;
    const id = str(value.capillary.eventId);
    if (id) return id;
  }
  return undefined;
}

/** The member a profile record is about: its loyaltyID, else the customer namespace of its identityMap. */
function customerOf(record: Json, customerNamespace: string): string | undefined {
  const loyalty = isRecord(record.loyalty) ? record.loyalty : undefined;
  const fromLoyalty = Array.isArray(loyalty?.loyaltyID) ? str(loyalty.loyaltyID[0]) : str(loyalty?.loyaltyID);
  if (fromLoyalty) return fromLoyalty;
  const identities = isRecord(record.identityMap) ? record.identityMap[customerNamespace] : undefined;
  return Array.isArray(identities) && isRecord(identities[0]) ? str(identities[0].id) : undefined;
}

export async function matchFailedRecords(
  store: Store,
  options: { route: string; kind: MessageKind; window: Window; customerNamespace: string; records: FailedRecord[] },
): Promise<Match[]> {
  const { route, kind, records } = options;
  const keyed = records.map((failed) => {
    const xdmId = kind === 'event' ? str(failed.record._id) : undefined;
    const candidates = xdmId ? eventIdsOfXdmId(xdmId) : kind === 'profile' && tenantEventId(failed.record) ? [tenantEventId(failed.record)!] : [];
    return { failed, candidates };
  });
  const ids = [...new Set(keyed.flatMap((k) => k.candidates))];
  const found = new Map<string, AccountingMessage>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const m of await store.messagesOfEvents({ route, kind, eventIds: ids.slice(i, i + 500) })) if (!found.has(m.eventId)) found.set(m.eventId, m);
  }
  const matches: Match[] = [];
  for (const { failed, candidates } of keyed) {
    const error = validationError(failed);
    const eventId = candidates.find((id) => found.has(id));
    if (eventId !== undefined) {
      matches.push({ failed, error, eventId, message: found.get(eventId) });
      continue;
    }
    if (kind === 'profile' && candidates.length === 0) {
      const customerId = customerOf(failed.record, options.customerNamespace);
      const only = customerId ? await store.profileMessagesOfCustomer({ route, customerId, ...options.window }) : [];
      if (only.length === 1) {
        matches.push({ failed, error, eventId: only[0]!.eventId, message: only[0] });
        continue;
      }
    }
    matches.push({ failed, error, eventId: undefined, message: undefined });
  }
  return matches;
}
