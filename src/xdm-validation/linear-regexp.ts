import type { Options } from 'ajv';
import { RE2JS } from 're2js';

/**
 * The patterns of a customer's schema run on RE2 (re2js, a JavaScript port of Google's RE2), never
 * on V8's backtracking engine: they come from outside the relay and are applied to every message, so
 * a pattern like `^(a+)+$` must not be able to stall the event loop (issue 10: every regex the relay
 * runs is linear in its input). RE2 refuses what it cannot run in linear time (lookarounds,
 * backreferences); such a pattern is left unchecked and named as such.
 */
export interface LinearRegExp {
  test(text: string): boolean;
  toString(): string;
}

export function linearRegExp(pattern: string): LinearRegExp {
  const compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  // ajv keys its cache of patterns by toString(): one per pattern.
  return { test: (text) => compiled.test(text), toString: () => `re2:${pattern}` };
}

/** Whether RE2 can run `pattern`. */
export function isLinear(pattern: string): boolean {
  try {
    linearRegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** For ajv's `code.regExp`: every `pattern` and `patternProperties` key of a compiled schema runs on RE2. */
export const linearRegExpEngine: NonNullable<NonNullable<Options['code']>['regExp']> = Object.assign((pattern: string) => linearRegExp(pattern), { code: 're2js' });
