import fc from 'fast-check';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import { KNOWN_EVENT_NAMES } from '../../src/mapping/event-families.js';
import type { MappingOptions } from '../../src/mapping/types.js';
import { DOCUMENTED_EVENTS, RECEIVED_AT, buildEvent } from '../helpers/capillary-fixtures.js';
import { PROFILE_TARGET, TENANT, mappingOptions } from './options.js';

/**
 * Capillary-shaped events with everything Capillary (or a broken sender) can get wrong: blocks
 * missing, blank strings, integers written as floats or strings, wrong types, arrays for objects,
 * unknown event names. Whatever arrives, the mapper must not throw and must send only valid XDM.
 */

const DELETE = Symbol('delete');

/** Values a wire field can hold when something is off. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, '', ' ', '  \t', 'null', '0', 0, -1, true, false, [], {}, ' RETURN ', 'return', '2027-04-27', '2021-02-30', 'INR', ' '),
  fc.constantFrom('1720440349027.0', '3.87979001E8', '50952.0', '1e400', '-0', 'NaN', 'Infinity', '💥', '\u0000', 'a#b#c', '%zz', '//x:y'),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 12 }),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** A leaf written differently: as a float, as a padded string, in exponent form. */
function variantsOf(value: unknown): fc.Arbitrary<unknown> {
  if (typeof value === 'number') {
    return fc.constantFrom(value, `${value}`, ` ${value}.0 `, value.toExponential(), Number.isInteger(value) ? `${value}.00` : value);
  }
  if (typeof value === 'string') return fc.constantFrom(value, ` ${value} `, value.toUpperCase(), value.toLowerCase());
  return fc.constant(value);
}

/** `value` with fields kept, dropped, replaced by odd values or written differently, recursively. */
function mutated(value: unknown, depth = 0): fc.Arbitrary<unknown> {
  if (Array.isArray(value) && depth < 5) {
    return fc.oneof(
      { weight: 4, arbitrary: fc.tuple(...value.map((item) => mutated(item, depth + 1))).map((items) => items.filter((item) => item !== DELETE)) },
      { weight: 1, arbitrary: oddValue },
    );
  }
  if (typeof value === 'object' && value !== null && depth < 5) {
    const entries = Object.entries(value);
    const fields = fc.tuple(
      ...entries.map(([key, item]) =>
        fc.oneof(
          { weight: 12, arbitrary: mutated(item, depth + 1) },
          { weight: 1, arbitrary: fc.constant<unknown>(DELETE) },
          { weight: 1, arbitrary: oddValue },
        ).map((mutant) => [key, mutant] as const),
      ),
    );
    return fc.oneof(
      { weight: 16, arbitrary: fields.map((pairs) => Object.fromEntries(pairs.filter(([, item]) => item !== DELETE))) },
      { weight: 1, arbitrary: oddValue },
    );
  }
  return fc.oneof({ weight: 8, arbitrary: variantsOf(value) }, { weight: 1, arbitrary: oddValue });
}

const unknownName = fc.oneof(
  fc.constantFrom('', 'groupCreated', 'targetValueAchieved', 'couponissue', 'constructor', '__proto__', 'hasOwnProperty'),
  fc.string({ maxLength: 20 }),
);

/** Mostly an event name with its own documented data, mutated; sometimes names and data that do not match. */
const nameAndData: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(...DOCUMENTED_EVENTS.map(([, name]) => name))
      .chain((name) => fc.tuple(fc.constant(name), mutated(buildEvent(name).data))),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.oneof(fc.constantFrom(...KNOWN_EVENT_NAMES), unknownName),
      fc.constantFrom(...DOCUMENTED_EVENTS.map(([, name]) => buildEvent(name).data)).chain((data) => mutated(data)),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...KNOWN_EVENT_NAMES),
      fc.oneof(
        fc.dictionary(fc.constantFrom('customerIdentifiers', 'loyaltyProgramDetails', 'coupons', 'amount', 'billType'), oddValue),
        fc.constant({}),
      ),
    ),
  },
) as fc.Arbitrary<[string, Record<string, unknown>]>;

export const capillaryEvent: fc.Arbitrary<CapillaryEvent> = fc
  .record({
    nameAndData,
    eventId: fc.oneof(fc.uuid(), fc.constantFrom('abacd-12345-ABCD', 'ABC-87484sdas&$', '', ' ', 'a b', '50%', '//x'), fc.string({ maxLength: 30 })),
    createdAt: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.double({ min: 1e12, max: 2e12 }),
      fc.constantFrom(-1e18, 1e20, Number.NaN, Number.POSITIVE_INFINITY),
    ),
    receivedAt: fc.oneof({ weight: 5, arbitrary: fc.constant(RECEIVED_AT) }, { weight: 1, arbitrary: fc.double() }),
    orgId: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.constant(' ')), { nil: undefined }),
    refId: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    apiRequestId: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    eventLogId: fc.option(fc.constantFrom('39125117', '39125117.0', ' ', '-1'), { nil: undefined }),
    loyaltyEventId: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    envelope: fc.constantFrom('flat', 'wrapped', 'internal'),
  })
  .map(({ nameAndData: [eventName, data], ...rest }) => ({ ...rest, eventName, data }) as CapillaryEvent);

export const mappingOptionsArbitrary: fc.Arbitrary<MappingOptions> = fc
  .record({
    tenant: fc.boolean(),
    profile: fc.boolean(),
    legacy: fc.boolean(),
    hash: fc.boolean(),
    channels: fc.boolean(),
  })
  .map(({ tenant, profile, legacy, hash, channels }) =>
    mappingOptions({
      tenantId: tenant ? TENANT : undefined,
      profile: profile ? PROFILE_TARGET : undefined,
      legacyLoyaltySchema: legacy,
      hashIdentities: hash,
      identity: { ...mappingOptions().identity, channels: channels ? { cuid: 'WeChatCuid', unionId: 'WeChatUnionId' } : {} },
    }),
  );
