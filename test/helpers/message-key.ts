type Json = Record<string, unknown>;
const recordOf = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/**
 * What identifies one DCS message, so a doubled, lost or never-sent one shows: the dataset plus the
 * ExperienceEvent's `_id`, or for a profile record (which has no `_id`) the member it is about and the
 * Capillary event it came from (the tenant block's `capillary.eventId`, else the whole entity).
 */
export function messageKey(message: unknown): string {
  const m = recordOf(message);
  const datasetId = String(recordOf(m?.['header'])?.['datasetId'] ?? '?');
  const entity = recordOf(recordOf(m?.['body'])?.['xdmEntity']) ?? {};
  const id = entity['_id'];
  if (typeof id === 'string' && id !== '') return `${datasetId}/_id=${id}`;
  const loyaltyIds = recordOf(entity['loyalty'])?.['loyaltyID'];
  const member = Array.isArray(loyaltyIds) ? String(loyaltyIds[0]) : JSON.stringify(entity['identityMap'] ?? null);
  const tenant = Object.keys(entity).find((k) => k.startsWith('_'));
  const eventId = recordOf(recordOf(tenant === undefined ? undefined : entity[tenant])?.['capillary'])?.['eventId'];
  return `${datasetId}/member=${member}/event=${typeof eventId === 'string' ? eventId : JSON.stringify(entity)}`;
}
