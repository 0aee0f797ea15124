/**
 * Keeps the relay under Adobe's per-inlet limits (1,000 requests/s, 10,000 messages/s) with two
 * token buckets, and slows down adaptively on 429 (AIMD, as RudderStack does): each 429 halves the
 * allowed rate, each accepted request wins back 2% of the ceiling.
 */
export interface RateLimiter {
  /** Resolves when one request carrying `messages` messages may be sent. */
  acquire(messages: number, signal?: AbortSignal): Promise<void>;
  onThrottled(): void;
  onSuccess(): void;
  /** Current fraction of the configured ceiling (1 = full speed). */
  readonly factor: number;
}

interface Bucket {
  tokens: number;
  ratePerMs: number;
  capacity: number;
}

export function createRateLimiter(options: { requestsPerSecond: number; messagesPerSecond: number; now?: () => number }): RateLimiter {
  const now = options.now ?? (() => performance.now());
  const MIN_FACTOR = 0.02;
  let factor = 1;
  let last = now();
  // Capacity of one second's worth: a burst never exceeds the per-second ceiling.
  const requests: Bucket = { tokens: options.requestsPerSecond, ratePerMs: options.requestsPerSecond / 1000, capacity: options.requestsPerSecond };
  const messages: Bucket = { tokens: options.messagesPerSecond, ratePerMs: options.messagesPerSecond / 1000, capacity: options.messagesPerSecond };
  let chain: Promise<void> = Promise.resolve();

  const refill = () => {
    const t = now();
    const elapsed = t - last;
    last = t;
    for (const b of [requests, messages]) b.tokens = Math.min(b.capacity * factor, b.tokens + elapsed * b.ratePerMs * factor);
  };

  const waitFor = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });

  const take = async (count: number, signal?: AbortSignal) => {
    for (;;) {
      refill();
      // A request bigger than the bucket waits for a full bucket, then goes.
      const needMessages = Math.min(count, messages.capacity * factor);
      if (requests.tokens >= 1 && messages.tokens >= needMessages) {
        requests.tokens -= 1;
        messages.tokens -= count;
        return;
      }
      if (signal?.aborted) return;
      const waitRequests = requests.tokens >= 1 ? 0 : (1 - requests.tokens) / (requests.ratePerMs * factor);
      const waitMessages = messages.tokens >= needMessages ? 0 : (needMessages - messages.tokens) / (messages.ratePerMs * factor);
      await waitFor(Math.max(1, Math.ceil(Math.max(waitRequests, waitMessages))), signal);
    }
  };

  return {
    acquire(count, signal) {
      // Serialize waiters so concurrent lanes are served in order and never overdraw together.
      const turn = chain.then(() => take(count, signal));
      chain = turn.catch(() => undefined);
      return turn;
    },
    onThrottled() {
      factor = Math.max(MIN_FACTOR, factor / 2);
    },
    onSuccess() {
      factor = Math.min(1, factor + 0.02);
    },
    get factor() {
      return factor;
    },
  };
}
