import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..', 'fixtures', 'capillary');

/** The shared Capillary samples, by file name without `.json`. */
export const SAMPLES: Record<string, Record<string, unknown>> = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>]),
);

/** A sample with a fresh eventId, so tests never collide on deduplication. */
export function sampleWithId(name: string, eventId: string): Record<string, unknown> {
  const sample = SAMPLES[name];
  if (!sample) throw new Error(`no sample ${name}`);
  return { ...structuredClone(sample), eventId };
}

/** The same event in the three envelope shapes Capillary is documented to send. */
export function inEnvelope(flat: Record<string, unknown>, shape: 'flat' | 'wrapped' | 'internal'): Record<string, unknown> {
  if (shape === 'flat') return flat;
  if (shape === 'wrapped') return { body: flat };
  const { eventId, eventName, orgId, ...attributes } = flat;
  return {
    eventId,
    eventType: `${String(orgId)}_${String(eventName)}`,
    consumerGroupId: 'cg-1',
    actionType: 'NOTIFY',
    timeStamp: flat['createdAt'],
    attributes: { eventName, orgId, ...attributes },
  };
}
