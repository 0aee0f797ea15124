import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { ClaimedMessage, MessageOutcome, Sink } from '../delivery/types.js';
import type { MessageKind } from '../mapping/types.js';
import type { Metrics } from '../metrics.js';
import { parseRetryAfter } from './dcs-client.js';
import { errorCode, errorMessage } from './dcs-response.js';
import type { TokenProvider } from './ims-token-provider.js';

/** A dataflow's streaming endpoint: `https://dcs.adobedc.net/collection/{inletId}` and its flow id. */
export interface PayloadEndpoint {
  url: string;
  flowId?: string;
}

/**
 * AEP_OUTPUT=source and raw: each message is a JSON payload of its own, posted alone to its
 * dataflow's streaming endpoint with `x-adobe-flow-id` (an HTTP API / Capillary source dataflow maps
 * it with Data Prep; these endpoints take no DCS batch). `profile` messages go to the profile
 * endpoint, `event` messages to the transaction (or raw) one. Same outcomes as the batch sink:
 * 400/422 dead-letters the message, 401/403 refreshes the token once, the rest is retried.
 */
export function createPayloadSink(deps: {
  endpoints: Partial<Record<MessageKind, PayloadEndpoint>>;
  tokenProvider: TokenProvider | undefined;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: Metrics;
  route: string;
  /** Whether metrics carry the route label (ROUTES_FILE set). */
  labelRoute: boolean;
  requestTimeoutMs: number;
}): Sink {
  const { aepRequests, aepRequestDuration } = deps.metrics;

  async function post(endpoint: PayloadEndpoint, body: string, token: string | undefined, signal: AbortSignal) {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (endpoint.flowId) headers['x-adobe-flow-id'] = endpoint.flowId;
    const started = performance.now();
    let status: number | undefined;
    try {
      const res = await request(endpoint.url, { method: 'POST', dispatcher: deps.dispatcher, headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(deps.requestTimeoutMs)]) });
      status = res.statusCode;
      const text = await res.body.text();
      return { status: res.statusCode, retryAfter: parseRetryAfter(res.headers['retry-after']), text };
    } finally {
      const labels = deps.labelRoute ? { route: deps.route } : {};
      aepRequests.inc({ status: status === undefined ? 'network_error' : String(status), ...labels });
      aepRequestDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }

  async function sendOne(message: ClaimedMessage, signal: AbortSignal): Promise<MessageOutcome> {
    const endpoint = deps.endpoints[message.kind];
    // A source route without a profile dataflow has nowhere to send profiles: say so, keep the message.
    if (!endpoint) return { id: message.id, outcome: 'rejected', reason: 'no_endpoint', detail: `no ${message.kind === 'profile' ? 'profile' : 'transaction'} dataflow configured for this route` };
    for (let attempt = 0; ; attempt += 1) {
      let token: string | undefined;
      try {
        token = deps.tokenProvider ? await deps.tokenProvider.getToken(signal) : undefined;
      } catch (error) {
        return { id: message.id, outcome: 'retry', reason: 'auth', detail: `no IMS token: ${errorMessage(error)}` };
      }
      let answer: Awaited<ReturnType<typeof post>>;
      try {
        answer = await post(endpoint, message.body, token, signal);
      } catch (error) {
        const code = errorCode(error);
        const timedOut = (error as { name?: string }).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
        return { id: message.id, outcome: 'retry', reason: timedOut ? 'timeout' : 'network', detail: code ?? errorMessage(error) };
      }
      const { status } = answer;
      if (status >= 200 && status < 300) {
        if (token !== undefined) deps.tokenProvider?.accepted(token);
        return { id: message.id, outcome: 'delivered' };
      }
      if ((status === 401 || status === 403) && token !== undefined && attempt === 0) {
        deps.tokenProvider?.invalidate(token);
        continue;
      }
      const detail = `HTTP ${status}: ${answer.text.slice(0, 300)}`;
      if (status === 400 || status === 422 || status === 413) return { id: message.id, outcome: 'rejected', reason: status === 413 ? 'too_large' : 'invalid_payload', detail };
      if (status === 429) return { id: message.id, outcome: 'retry', reason: 'http_429', detail, ...(answer.retryAfter !== undefined ? { retryAfterMs: answer.retryAfter } : {}) };
      if (status === 401 || status === 403) return { id: message.id, outcome: 'retry', reason: 'auth', detail };
      return { id: message.id, outcome: 'retry', reason: status >= 500 ? 'http_5xx' : 'http_4xx', detail };
    }
  }

  return {
    name: 'aep',
    async send(batch, signal) {
      // One request a message; a few at once, so a batch costs about one round trip, not n.
      const outcomes: MessageOutcome[] = [];
      for (let i = 0; i < batch.length; i += 8) outcomes.push(...(await Promise.all(batch.slice(i, i + 8).map((m) => sendOne(m, signal)))));
      const failed = outcomes.find((o) => o.outcome !== 'delivered');
      if (failed) deps.logger.warn({ route: deps.route, messages: batch.length, failed: outcomes.filter((o) => o.outcome !== 'delivered').length, outcome: failed }, 'payload delivery: some messages not accepted');
      return outcomes;
    },
    async readiness() {
      if (!deps.tokenProvider) return { ok: true };
      try {
        await deps.tokenProvider.getToken(AbortSignal.timeout(5_000));
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: `IMS token: ${errorMessage(error)}` };
      }
    },
    ...(deps.tokenProvider ? { tokenStatus: () => deps.tokenProvider!.status() } : {}),
    async close() {},
  };
}
