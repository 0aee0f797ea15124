/**
 * A base URL without its trailing slashes, so paths can be appended with one. A loop, not
 * `replace(/\/+$/, '')`: that regex backtracks over every run of slashes not at the end, quadratic
 * on a long one (test/security/regex-linear.test.ts holds every regex of src/ to linear time).
 */
export function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 47 /* '/' */) end -= 1;
  return url.slice(0, end);
}
