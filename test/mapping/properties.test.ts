import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KNOWN_EVENT_NAMES } from '../../src/mapping/event-families.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import { MAX_SOURCE_TIME_AHEAD_MS } from '../../src/mapping/profile-record.js';
import { buildEvent } from '../helpers/capillary-fixtures.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';
import { capillaryEvent, mappingOptionsArbitrary } from './arbitraries.js';
import { TENANT, emptyValuesIn, mappingOptions, primaryCount } from './options.js';

/**
 * Whatever arrives (see arbitraries.ts), the mapper must not throw and must send only valid XDM.
 */
describe('mapEvent on generated Capillary-shaped events', () => {
  it('never throws; unknown names are unmapped; every entity is valid XDM with nothing blank and one primary identity', () => {
    fc.assert(
      fc.property(capillaryEvent, mappingOptionsArbitrary, (event, opts) => {
        const result = mapEvent(event, opts);
        expect(result.warnings).not.toContain('mapping_error');
        if (!KNOWN_EVENT_NAMES.has(event.eventName)) {
          expect(result).toEqual({ status: 'unmapped', messages: [], warnings: [] });
          return;
        }
        expect(result.status).toBe('mapped');
        expect(result.messages[0]?.kind).toBe('event');
        expect(result.messages.length).toBeLessThanOrEqual(opts.profile === undefined ? 1 : 2);
        for (const message of result.messages) {
          const entity = message.message.body.xdmEntity;
          const validate = message.kind === 'event' ? validateExperienceEvent : validateProfile;
          expect(validate(entity)).toEqual([]);
          expect(emptyValuesIn(entity)).toEqual([]);
          if (message.kind === 'event') expect(Number.isSafeInteger(message.sourceCreatedAt)).toBe(true);
          // A profile record orders by the event's own createdAt, never one a day past arrival, else null.
          else if (message.sourceCreatedAt !== null) {
            expect(message.sourceCreatedAt).toBe(Math.trunc(event.createdAt!));
            expect(message.sourceCreatedAt).toBeGreaterThan(0);
            expect(message.sourceCreatedAt).toBeLessThanOrEqual(event.receivedAt + MAX_SOURCE_TIME_AHEAD_MS);
          }
          if (entity['identityMap'] !== undefined) expect(primaryCount(entity['identityMap'])).toBe(1);
          const tenantKeys = Object.keys(entity).filter((key) => key.startsWith('_') && key !== '_id');
          expect(tenantKeys).toEqual(opts.tenantId === undefined ? [] : [`_${TENANT}`].filter((key) => key in entity));
          if (message.kind === 'event') {
            expect(Date.parse(entity['timestamp'] as string)).toBe(message.sourceCreatedAt);
          } else {
            expect(message.profileKey).toMatch(/^.+:.+$/);
            expect(entity['identityMap']).toBeDefined();
          }
        }
        expect(result.warnings.includes('no_identity')).toBe(result.messages[0]?.message.body.xdmEntity['identityMap'] === undefined);
      }),
      { numRuns: 400 },
    );
  });

  it('is pure: the same event and options give the same result', () => {
    fc.assert(
      fc.property(capillaryEvent, mappingOptionsArbitrary, (event, opts) => {
        expect(mapEvent(structuredClone(event), opts)).toEqual(mapEvent(structuredClone(event), opts));
      }),
      { numRuns: 100 },
    );
  });

  it('a customerId written as a float, a float string or in exponent form becomes the plain integer', () => {
    const written = fc.integer({ min: 1, max: 2 ** 53 - 1 }).chain((id) =>
      fc.constantFrom<[number, unknown]>([id, id], [id, `${id}.0`], [id, ` ${id}.000 `], [id, id.toExponential()]),
    );
    fc.assert(
      fc.property(written, ([id, customerId]) => {
        const result = mapEvent(buildEvent('pointsIssued', { customerIdentifiers: { customerId } }), mappingOptions());
        const entity = result.messages[0]?.message.body.xdmEntity;
        expect(entity?.['identityMap']).toMatchObject({ CapillaryId: [{ id: String(id), primary: true }] });
        expect(result.messages[1]?.profileKey).toBe(`${id}:1427`);
      }),
      { numRuns: 200 },
    );
  });
});
