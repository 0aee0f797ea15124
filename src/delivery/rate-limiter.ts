/**
 * Keeps the relay under Adobe's per-inlet limits (1,000 requests/s, 10,000 messages/s) with a
 * sliding one-second window: in no window of one second do more requests or messages go than
 * allowed. (A token bucket holding one second's worth lets twice the limit through in the second
 * after an idle spell, e.g. when a backlog drains after an outage.) It slows down adaptively on 429
 * (AIMD, as RudderStack does): each 429 halves the allowed rate, each accepted request wins back 2%
 * of the ceiling; a Retry-After pauses every sender, not just the batch that got it.
 */
export interface RateLimiter {
  /**
   * Resolves when one request carrying `messages` messages may be sent. Resolves early, taking
   * nothing, when `signal` aborts: the caller must check the signal before sending. The permit lets
   * a caller that acquired before knowing its request's size (the delivery worker acquires for a
   * full batch, then claims) count what it really sends; a fake limiter may answer undefined.
   */
  acquire(messages: number, signal?: AbortSignal): Promise<Permit | undefined>;
  /** Adobe answered 429: halve the rate, and pause everyone for `retryAfterMs` when Adobe said so. */
  onThrottled(retryAfterMs?: number): void;
  onSuccess(): void;
  /** Milliseconds left of a Retry-After pause (0 when none): lets idle senders wait before claiming work. */
  pausedMs(): number;
  /** Current fraction of the configured ceiling (1 = full speed). */
  readonly factor: number;
}

/** One admitted request in the window. */
export interface Permit {
  /** The request carries `messages` (at most what was acquired); 0 takes the request back unsent. */
  resize(messages: number): void;
}

const WINDOW_MS = 1_000;
const MIN_FACTOR = 0.02;

export function createRateLimiter(options: {
  requestsPerSecond: number;
  messagesPerSecond: number;
  now?: () => number;
  /** Its waits (tests pass the delivery worker's manual timer, with `now` from the same clock). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}): RateLimiter {
  const now = options.now ?? (() => performance.now());
  let factor = 1;
  let pausedUntil = -Infinity;
  let lastDecrease = -Infinity;
  /** Requests sent in the last WINDOW_MS, oldest first, from index `head`. */
  const sent: { at: number; messages: number }[] = [];
  let head = 0;
  let messagesInWindow = 0;
  let chain: Promise<void> = Promise.resolve();

  const prune = (t: number) => {
    while (head < sent.length && sent[head]!.at <= t - WINDOW_MS) {
      messagesInWindow -= sent[head]!.messages;
      head += 1;
    }
    if (head > 1024 && head * 2 > sent.length) {
      sent.splice(0, head);
      head = 0;
    }
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

  const permitFor = (entry: { at: number; messages: number }): Permit => ({
    resize(messages) {
      const index = sent.indexOf(entry, head);
      if (index < 0) return; // already slid out of the window
      const kept = Math.max(0, Math.min(messages, entry.messages));
      messagesInWindow -= entry.messages - kept;
      entry.messages = kept;
      // Taken back unsent: no request either.
      if (kept === 0) sent.splice(index, 1);
    },
  });

  const take = async (count: number, signal?: AbortSignal): Promise<Permit | undefined> => {
    for (;;) {
      if (signal?.aborted) return undefined;
      const t = now();
      prune(t);
      const maxRequests = Math.max(1, Math.floor(options.requestsPerSecond * factor));
      const maxMessages = Math.max(1, Math.floor(options.messagesPerSecond * factor));
      const inWindow = sent.length - head;
      // A request bigger than the whole allowance goes alone, in a window empty of other messages.
      const target = count > maxMessages ? 0 : maxMessages - count;
      if (t >= pausedUntil && inWindow < maxRequests && messagesInWindow <= target) {
        const entry = { at: t, messages: count };
        sent.push(entry);
        messagesInWindow += count;
        return permitFor(entry);
      }
      // Wait until enough of the window has slid past (or the pause is over).
      let until = Math.max(t, pausedUntil);
      if (inWindow >= maxRequests) until = Math.max(until, sent[sent.length - maxRequests]!.at + WINDOW_MS);
      let remaining = messagesInWindow;
      for (let i = head; i < sent.length && remaining > target; i += 1) {
        remaining -= sent[i]!.messages;
        until = Math.max(until, sent[i]!.at + WINDOW_MS);
      }
      await (options.sleep ?? waitFor)(Math.max(1, Math.ceil(until - t)), signal);
    }
  };

  return {
    acquire(count, signal) {
      // Serialize waiters so concurrent lanes are served in order and never overdraw together.
      const turn = chain.then(() => take(count, signal));
      chain = turn.then(
        () => undefined,
        () => undefined,
      );
      if (!signal) return turn;
      // A caller still queued behind others gets its answer when it aborts, not when its turn comes
      // (its turn then takes nothing): its lease deadline must not wait on other lanes' waits.
      return new Promise<Permit | undefined>((resolve, reject) => {
        const onAbort = () => resolve(undefined);
        if (signal.aborted) return resolve(undefined);
        signal.addEventListener('abort', onAbort, { once: true });
        turn.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    onThrottled(retryAfterMs) {
      // Several lanes throttled by the same burst count as one signal: halve at most once a window.
      const t = now();
      if (t - lastDecrease >= WINDOW_MS) {
        factor = Math.max(MIN_FACTOR, factor / 2);
        lastDecrease = t;
      }
      if (retryAfterMs !== undefined && retryAfterMs > 0) pausedUntil = Math.max(pausedUntil, t + retryAfterMs);
    },
    onSuccess() {
      factor = Math.min(1, factor + 0.02);
    },
    pausedMs() {
      return Math.max(0, Math.ceil(pausedUntil - now()));
    },
    get factor() {
      return factor;
    },
  };
}
