/**
 * Defensive readers for wire data. Capillary's `data` is whatever JSON arrived: any field can be
 * missing, null, the wrong type, a number written as a float (`1720440349027.0`) or as a string,
 * or a blank string (`" "`). Every helper here returns a clean value or `undefined`; none throws.
 */

import { MAX_DATE_TEXT_LENGTH, MAX_ID_LENGTH, MAX_NUMBER_TEXT_LENGTH } from './capillary-event.js';

export type JsonRecord = Record<string, unknown>;

/** A plain object (not an array, not null), else undefined. */
export function asRecord(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
}

/** An array, else an empty one. */
export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Reads `obj.a.b.c`, walking only through plain objects. */
export function at(value: unknown, ...path: string[]): unknown {
  let current: unknown = value;
  for (const key of path) {
    const record = asRecord(current);
    if (record === undefined || !Object.hasOwn(record, key)) return undefined;
    current = record[key];
  }
  return current;
}

// Every pattern here runs in linear time (test/security/regex-linear.test.ts checks each with recheck).
// NUMERIC once read `\d+\.?\d*`: with the dot optional, the two digit runs could split a run of n
// digits n ways, and a failing match ("1234…9x") tried every split, each rescanning the rest: n²/2
// steps, 1 s for 40,000 digits. Here the fraction's digits can only follow a dot.
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_WITH_ZERO_FRACTION = /^([+-]?\d+)\.0*$/;

/** A finite number from a number or a numeric string (`"120"`, `" 50952.0 "`), else undefined. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    if (value.length > MAX_NUMBER_TEXT_LENGTH) return undefined;
    const text = value.trim();
    if (!NUMERIC.test(text)) return undefined;
    const parsed = Number(text);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/**
 * A number as text the way a person writes it: integers in full (`387979001`, never `3.87979001E8`
 * or `387979001.0`), other values in plain decimal form (`2261.5`, `0.0000001`).
 */
export function numberToText(value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (Number.isInteger(value)) return BigInt(value).toString();
  const text = String(value);
  const exponent = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (exponent === null) return text;
  // A tiny non-integer (`1e-7`): move the decimal point in the shortest round-trip digits, so the
  // text is plain decimal without the binary noise toFixed would add.
  const [, sign = '', whole = '', fraction = '', power = '0'] = exponent;
  const digits = `${whole}${fraction}`;
  const point = whole.length + Number(power);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Trimmed non-blank text from a string, or a number written as text; else undefined. */
export function asText(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const text = value.trim();
    return text === '' ? undefined : text;
  }
  if (typeof value === 'number') return numberToText(value);
  return undefined;
}

/**
 * An identifier as text. Like {@link asText}, and a numeric string written as a float
 * (`"387979001.0"`, `"3.87979001E8"`) becomes the plain integer (`"387979001"`). Other strings,
 * leading zeros included, are kept as written (a bill number `"007"` stays `"007"`). Text longer
 * than MAX_ID_LENGTH is no id: undefined.
 */
export function asId(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > MAX_ID_LENGTH) return undefined;
  const text = asText(value);
  if (text === undefined || typeof value !== 'string') return text;
  const zeroFraction = INTEGER_WITH_ZERO_FRACTION.exec(text);
  if (zeroFraction?.[1] !== undefined) return zeroFraction[1].replace(/^\+/, '');
  if (/[eE]/.test(text) && NUMERIC.test(text)) {
    const parsed = Number(text);
    if (Number.isSafeInteger(parsed)) return String(parsed);
  }
  return text;
}

/** A boolean from `true`/`false` or the strings "true"/"false"; else undefined. */
export function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  return undefined;
}

/** The span of instants an RFC 3339 date-time can express (years 0000 to 9999). */
const MIN_ISO_MS = -62_167_219_200_000;
const MAX_ISO_MS = 253_402_300_799_999;

/** ISO-8601 UTC (`2021-04-27T10:37:21.506Z`) for epoch milliseconds, when representable. */
export function epochMsToIso(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const whole = Math.trunc(ms);
  if (whole < MIN_ISO_MS || whole > MAX_ISO_MS) return undefined;
  return new Date(whole).toISOString();
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A date-time string (ISO-8601 UTC) from what Capillary sends for dates: epoch milliseconds
 * (number or numeric string), a calendar date (`"2027-04-27"`, read as midnight UTC), or a
 * date-time with or without an offset (no offset is read as UTC, so the result does not depend
 * on the machine's time zone). Anything else: undefined.
 */
export function asDateTime(value: unknown): string | undefined {
  const ms = asNumber(value);
  if (ms !== undefined) return epochMsToIso(ms);
  if (typeof value !== 'string' || value.length > MAX_DATE_TEXT_LENGTH) return undefined;
  const text = value.trim();
  const dateOnly = DATE_ONLY.exec(text);
  if (dateOnly !== null) return isoIfSameDate(`${text}T00:00:00.000Z`, text);
  const dateTime = DATE_TIME.exec(text);
  if (dateTime === null) return undefined;
  const [, date = '', time = '', zone] = dateTime;
  // Reject impossible calendar dates such as 2021-02-30 that Date.parse would roll over.
  if (isoIfSameDate(`${date}T00:00:00.000Z`, date) === undefined) return undefined;
  const offset = zone === undefined || zone.toUpperCase() === 'Z' ? 'Z' : normalizeOffset(zone);
  const parsed = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}${offset}`);
  return Number.isFinite(parsed) ? epochMsToIso(parsed) : undefined;
}

function isoIfSameDate(iso: string, date: string): string | undefined {
  const parsed = Date.parse(iso);
  if (!Number.isFinite(parsed)) return undefined;
  const result = epochMsToIso(parsed);
  return result?.startsWith(date) === true ? result : undefined;
}

function normalizeOffset(zone: string): string {
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

/** A three-letter ISO-4217 code, else undefined (Capillary sends `" "` at times). */
export function asCurrencyCode(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return /^[A-Z]{3}$/.test(text) ? text : undefined;
}

/**
 * Removes what AEP must never receive: undefined, null, NaN and infinities, blank strings, and the
 * objects and arrays left empty by that. Returns undefined when nothing is left.
 */
export function compact<T>(value: T): T | undefined {
  return compactValue(value) as T | undefined;
}

// Loops rather than Object.entries, map and filter: the mapper runs once per webhook, and those
// allocate an array per key and per step (a sampling heap profile of the relay under ingest).
function compactValue(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) {
      const kept = compactValue(item);
      if (kept !== undefined) items.push(kept);
    }
    return items.length === 0 ? undefined : items;
  }
  if (typeof value === 'object') {
    let result: JsonRecord | undefined;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const kept = compactValue((value as JsonRecord)[key]);
      if (kept !== undefined) (result ??= {})[key] = kept;
    }
    return result;
  }
  return typeof value === 'boolean' ? value : undefined;
}
