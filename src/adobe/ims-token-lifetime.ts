/**
 * How long an IMS access token lives. IMS answers `expires_in` in SECONDS on /ims/token/v3 and v2,
 * in MILLISECONDS on the unversioned /ims/token and v1; read the wrong way, a token looks valid for
 * 1,000 days or for 86 seconds. The JWT's own `created_at` and `expires_in` claims settle it.
 */
/** IMS tokens live ~24 h; anything claiming more is a unit mix-up, so do not believe it past this. */
export const MAX_TOKEN_LIFETIME_MS = 48 * 3_600_000;
/** Used when IMS gives no usable lifetime: short enough that a wrong guess heals itself soon. */
const FALLBACK_LIFETIME_MS = 10 * 60_000;
/** Accept a JWT's created_at as "now" in our clock when within this skew; else only trust its lifetime. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The token's lifetime in ms, and when it was issued if the JWT says so.
 * `expires_in` is seconds on /ims/token/v2 and v3, milliseconds on /ims/token and /ims/token/v1;
 * the JWT's own `created_at` + `expires_in` claims (ms) settle it when present.
 */
export function tokenLifetime(
  imsUrl: string,
  body: { access_token: string; expires_in?: unknown },
  now: number,
): { lifetimeMs: number; expiresAt: number; source: 'jwt' | 'seconds' | 'milliseconds' | 'fallback'; clamped: boolean } {
  const claims = jwtClaims(body.access_token);
  if (claims) {
    const createdAt = toNumber(claims.created_at);
    const expiresIn = toNumber(claims.expires_in);
    if (createdAt !== undefined && expiresIn !== undefined && expiresIn > 0) {
      // created_at is IMS's clock; use it only if it agrees with ours, else count from now.
      const base = Math.abs(now - createdAt) <= MAX_CLOCK_SKEW_MS ? createdAt : now;
      return clampLifetime(base + expiresIn - now, now, 'jwt');
    }
  }
  const raw = toNumber(body.expires_in);
  if (raw === undefined || raw <= 0) {
    return { lifetimeMs: FALLBACK_LIFETIME_MS, expiresAt: now + FALLBACK_LIFETIME_MS, source: 'fallback', clamped: true };
  }
  const unit = expiresInUnit(imsUrl, raw);
  return clampLifetime(unit === 'seconds' ? raw * 1000 : raw, now, unit);
}

function clampLifetime(
  lifetimeMs: number,
  now: number,
  source: 'jwt' | 'seconds' | 'milliseconds',
): { lifetimeMs: number; expiresAt: number; source: 'jwt' | 'seconds' | 'milliseconds' | 'fallback'; clamped: boolean } {
  if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) {
    // Already expired by its own claims, or nonsense: a short life makes us ask again soon.
    return { lifetimeMs: FALLBACK_LIFETIME_MS, expiresAt: now + FALLBACK_LIFETIME_MS, source: 'fallback', clamped: true };
  }
  const clamped = lifetimeMs > MAX_TOKEN_LIFETIME_MS;
  const ms = clamped ? MAX_TOKEN_LIFETIME_MS : lifetimeMs;
  return { lifetimeMs: ms, expiresAt: now + ms, source, clamped };
}

/** Decided by the URL path; for a path IMS does not document, by magnitude (a day in ms is > 1e6). */
export function expiresInUnit(imsUrl: string, value: number): 'seconds' | 'milliseconds' {
  let path = '';
  try {
    path = new URL(imsUrl).pathname;
  } catch {
    /* fall through to magnitude */
  }
  // Trailing slashes are allowed in the patterns rather than stripped with `/\/+$/`, which retries
  // from every slash of a long run: quadratic (test/security/regex-linear.test.ts).
  if (/\/ims\/token\/v[2-9]\d*\/*$/.test(path)) return 'seconds';
  if (/\/ims\/token(\/v1)?\/*$/.test(path)) return 'milliseconds';
  return value >= 1_000_000 ? 'milliseconds' : 'seconds';
}

function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}
