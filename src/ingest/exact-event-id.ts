/**
 * A numeric eventId above 2^53 loses digits in JSON.parse (12345678901234567891 and
 * 12345678901234567892 both become 12345678901234567000), so two events would share an id and the
 * second be answered `duplicate`. This puts the digits back from the raw body text.
 *
 * How: only when a parsed eventId is an integer that is not a safe integer, one forward scan of the
 * raw text finds the number token at that key path. The text is valid JSON (JSON.parse accepted it),
 * so the scan need only skip strings and count brackets. It reads each character once, keeps no stack
 * (it descends only into the key being looked for), and so is linear and cannot overflow on hostile
 * nesting. Not chosen: a JSON.parse reviver with `context.source` (Node 24 has it, but a reviver is
 * called for every value of every body: a 1.2 KB webhook parsed 6x slower, measured), and
 * a second full parse with lossless-json or json-bigint (a recursive parser: deep nesting overflows
 * its stack, and it builds a second copy of the body for one field).
 */

/** Where the envelopes keep the event id (flat and internal: `eventId`; wrapped: `body.eventId`). */
const ID_PATHS: readonly (readonly string[])[] = [['eventId'], ['body', 'eventId']];

/** Plain integers, with an optional all-zero fraction (`1720440349027.0`): what an id is written as. */
const INTEGER_TOKEN = /^-?\d+(?:\.0+)?$/;

/**
 * The body with every numeric eventId that JSON.parse rounded replaced by its exact digits (a string).
 * Returns `body` itself when nothing was rounded (the usual case: no scan at all).
 */
export function withExactEventIds(body: unknown, rawBody: string | undefined): unknown {
  if (rawBody === undefined) return body;
  let out = body;
  for (const path of ID_PATHS) {
    const value = valueAt(out, path);
    // Rounded: an integer past 2^53, or one so long it became Infinity.
    if (typeof value !== 'number' || Number.isSafeInteger(value) || !(Number.isInteger(value) || !Number.isFinite(value))) continue;
    const token = rawNumberAt(rawBody, path);
    if (token !== undefined && INTEGER_TOKEN.test(token)) out = replaceAt(out, path, token);
  }
  return out;
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** A copy of `value` with the value at `path` replaced; the objects along the path are copied. */
function replaceAt(value: unknown, path: readonly string[], replacement: unknown): unknown {
  const [key, ...rest] = path;
  if (key === undefined) return replacement;
  const record = value as Record<string, unknown>;
  return { ...record, [key]: replaceAt(record[key], rest, replacement) };
}

/**
 * The raw text of the number at `path` (object keys from the top), or undefined when the value
 * there is not a number. Duplicate keys: the last one wins, as in JSON.parse. `text` must be valid JSON.
 */
export function rawNumberAt(text: string, path: readonly string[]): string | undefined {
  const start = skipSpace(text, 0);
  if (text[start] !== '{') return undefined;
  try {
    return scanObject(text, start, path).found;
  } catch {
    return undefined; // not valid JSON after all (a key that does not decode): keep the parsed value
  }
}

/** Scans the object whose `{` is at `open`; returns what was found and the index after its `}`. */
function scanObject(text: string, open: number, path: readonly string[]): { found: string | undefined; end: number } {
  let found: string | undefined;
  let i = skipSpace(text, open + 1);
  if (text[i] === '}') return { found, end: i + 1 };
  for (;;) {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the ':'
    if (key === path[0]) {
      if (path.length === 1) {
        const valueEnd = skipValue(text, i);
        const c = text[i];
        found = c === '-' || (c !== undefined && c >= '0' && c <= '9') ? text.slice(i, valueEnd) : undefined;
        i = valueEnd;
      } else if (text[i] === '{') {
        const inner = scanObject(text, i, path.slice(1));
        found = inner.found;
        i = inner.end;
      } else {
        found = undefined;
        i = skipValue(text, i);
      }
    } else {
      i = skipValue(text, i);
    }
    i = skipSpace(text, i);
    if (text[i] === ',') i = skipSpace(text, i + 1);
    else return { found, end: i + 1 };
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i += 1;
  return i;
}

/** Index after the string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  i += 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i += 1;
  }
  return i;
}

/** Index after the value starting at `i`: a string, an object or array (brackets counted), or a literal. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < text.length) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth += 1;
      else if (d === '}' || d === ']') {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  while (i < text.length && !',}] \t\n\r'.includes(text[i]!)) i += 1;
  return i;
}
