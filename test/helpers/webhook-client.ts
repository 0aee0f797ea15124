import { request, type Dispatcher } from 'undici';

/** What a Capillary-like sender learns from one webhook call; status 0 when no answer came at all. */
export interface WebhookAnswer {
  status: number;
  /** How long the call took, ms. */
  ms: number;
  retryAfter?: string;
  /** `accepted` or `duplicate` on a 202. */
  outcome?: string;
  /** The error code of a refusal, or the network error when no answer came. */
  error?: string;
}

/**
 * A webhook sender and readiness prober for the process tests (restart, blackhole, disk full):
 * posts as Capillary does (its secret in the authorization header, JSON), never throws.
 */
export function webhookClient(options: { dispatcher: Dispatcher; secret: string }) {
  const { dispatcher, secret } = options;
  return {
    async post(url: string, body: string): Promise<WebhookAnswer> {
      const started = performance.now();
      try {
        const res = await request(`${url}/webhooks/capillary`, {
          method: 'POST',
          dispatcher,
          headers: { authorization: secret, 'content-type': 'application/json' },
          body,
        });
        const parsed = JSON.parse(await res.body.text()) as { status?: string; error?: string };
        const retryAfter = res.headers['retry-after'];
        return {
          status: res.statusCode,
          ms: performance.now() - started,
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
          ...(res.statusCode === 202 ? { outcome: parsed.status } : parsed.error ? { error: parsed.error } : {}),
        };
      } catch (error) {
        return { status: 0, ms: performance.now() - started, error: String(error) };
      }
    },

    /** GET /readyz: its status and what it says of the store. */
    async readiness(url: string): Promise<{ status: number; store: string }> {
      const res = await request(`${url}/readyz`, { dispatcher });
      const body = (await res.body.json()) as { checks: { store: string } };
      return { status: res.statusCode, store: body.checks.store };
    },
  };
}
