/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * a random delay in [base, min(max, base * 2^attempt)], so retries of a failed batch spread out
 * instead of returning together. `retryAfterMs` from Adobe, when given, is a floor (clamped to max).
 */
export function retryDelayMs(
  attempt: number,
  policy: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = policy.baseMs + random() * Math.max(0, ceiling - policy.baseMs);
  const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.maxMs);
  return Math.round(Math.max(jittered, floor));
}
