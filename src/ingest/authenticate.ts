import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks the header Capillary sends against every accepted secret (several, for rotation) in
 * constant time: values are compared as SHA-256 digests of equal length, and every secret is
 * checked even after a match, so timing reveals neither which secret nor how much matched.
 */
export function createHeaderAuthenticator(secrets: readonly string[]): (presented: string | string[] | undefined) => boolean {
  const expected = secrets.map(digest);
  return (presented) => {
    if (typeof presented !== 'string' || presented.length === 0) return false;
    const given = digest(presented);
    let match = false;
    for (const secret of expected) match = timingSafeEqual(given, secret) || match;
    return match;
  };
}
