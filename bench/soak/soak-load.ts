/**
 * The soak's webhook sender: Capillary samples with unique eventIds at a steady rate, spread over a
 * few concurrent senders, each webhook retried until the relay acknowledges it (202), as Capillary
 * retries: through kill -9 (connection refused), 503 and 429 (honouring Retry-After, capped so a
 * retry storm stays a modest one). Only 127.0.0.1.
 */
import { Agent, request } from 'undici';
import { AUTH_SECRET, WEBHOOK_PATH, bodyOf, type SampleTemplate } from '../load/samples.js';

export interface SoakLoad {
  /** Event ids the relay answered 202 for (accepted or duplicate). */
  readonly acknowledged: Set<string>;
  /** Answers by status, and `network` for refused or cut connections. */
  readonly outcomes: Record<string, number>;
  issued(): number;
  /** Webhooks issued but not yet acknowledged. */
  backlog(): number;
  /** Stop issuing new webhooks; resolves once every issued one is acknowledged (or `deadline`). */
  finish(deadline: number): Promise<void>;
}

const RETRY_PAUSE_MS = 250;
const MAX_RETRY_AFTER_MS = 2000;

export function startSoakLoad(o: { url: () => string; samples: SampleTemplate[]; prefix: string; rate: number; senders: number }): SoakLoad {
  const agent = new Agent({ connections: o.senders, keepAliveTimeout: 10_000, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const acknowledged = new Set<string>();
  const outcomes: Record<string, number> = {};
  const ready: number[] = [];
  let retryAt = 0;
  let issued = 0;
  let issuing = true;
  let deadline = Infinity;
  const startedAt = performance.now();
  let wake: (() => void) | undefined;

  const ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * o.rate);
    while (issuing && issued < due) ready.push(issued++);
    wake?.();
  }, 10);

  const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);

  async function sendOnce(n: number): Promise<number | undefined> {
    const id = `${o.prefix}-${n}`;
    try {
      const res = await request(`${o.url()}${WEBHOOK_PATH}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization: AUTH_SECRET },
        body: bodyOf(o.samples, n, id),
      });
      await res.body.text();
      count(String(res.statusCode));
      if (res.statusCode === 202) {
        acknowledged.add(id);
        return undefined;
      }
      const retryAfterS = Number(res.headers['retry-after']);
      return Number.isFinite(retryAfterS) ? Math.min(retryAfterS * 1000, MAX_RETRY_AFTER_MS) : RETRY_PAUSE_MS;
    } catch {
      count('network');
      return RETRY_PAUSE_MS;
    }
  }

  async function sender(): Promise<void> {
    for (;;) {
      if (performance.now() > deadline) return;
      const pause = retryAt - performance.now();
      const n = pause <= 0 ? ready.shift() : undefined;
      if (n === undefined) {
        if (!issuing && ready.length === 0) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(pause, 10));
        });
        continue;
      }
      const retryIn = await sendOnce(n);
      if (retryIn !== undefined) {
        // Back to the front: the relay is down or pushing back, so every sender pauses together.
        ready.unshift(n);
        retryAt = Math.max(retryAt, performance.now() + retryIn);
      }
    }
  }
  const senders = Array.from({ length: o.senders }, () => sender());

  return {
    acknowledged,
    outcomes,
    issued: () => issued,
    backlog: () => issued - acknowledged.size,
    async finish(until) {
      issuing = false;
      deadline = until;
      clearInterval(ticker);
      await Promise.all(senders);
      await agent.close();
    },
  };
}
