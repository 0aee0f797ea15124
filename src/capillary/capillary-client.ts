import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { CapillaryApiConfig } from '../config/route-config.js';
import { recordHttpStatus, urlAttributes, withClientSpan } from '../tracing/spans.js';
import { isGaveUp, readDeliveryCounts, readDeliveryLog, type DeliveryCounts, type DeliveryLogEntry } from './capillary-answers.js';
import { CapillaryApiError, capillaryCodeForStatus, readCapillaryError } from './capillary-error.js';
import { createCapillaryTokens, type CapillaryTokens } from './capillary-token.js';
import { withoutTrailingSlashes } from '../urls.js';

export type { DeliveryCounts, DeliveryLogEntry } from './capillary-answers.js';
export { CapillaryApiError, type CapillaryErrorCode } from './capillary-error.js';

/**
 * Capillary's own view of one webhook's deliveries (issue 17): the counts per time range of its
 * consumer group (`/v3/events/consumer-groups/{id}/metrics`) and the delivery log of the events it
 * gave up on (`.../logs`). A deadline on every call, the OAuth token in the configured header, one
 * fresh token and one retry after a 401. Reference: /work/shared/reference/capillary-apis.md.
 */
export interface CapillaryClient {
  deliveryCounts(range: { from: number; to: number }, signal?: AbortSignal): Promise<DeliveryCounts>;
  /**
   * Events Capillary gave up on in the range, from its delivery log, at most `limit` (the log pages;
   * its parameter names are unconfirmed: `status`, `page` (from 0), `size`). `truncated` when more
   * were there.
   */
  failedEvents(range: { from: number; to: number }, limit: number, signal?: AbortSignal): Promise<{ entries: DeliveryLogEntry[]; truncated: boolean }>;
}

export interface CapillaryClientDeps {
  config: CapillaryApiConfig;
  dispatcher: Dispatcher;
  timeoutMs: number;
  logger: Logger;
  now?: () => number;
  /** Test seam: a token source other than the OAuth endpoint. */
  tokens?: CapillaryTokens;
}

const PAGE_SIZE = 100;
const MAX_PAGES = 20;

export function createCapillaryClient(deps: CapillaryClientDeps): CapillaryClient {
  const { config } = deps;
  const base = withoutTrailingSlashes(config.url);
  const group = `/v3/events/consumer-groups/${encodeURIComponent(config.consumerGroupId)}`;
  const tokens = deps.tokens ?? createCapillaryTokens({ baseUrl: base, key: config.key, secret: config.secret, dispatcher: deps.dispatcher, timeoutMs: deps.timeoutMs, logger: deps.logger, ...(deps.now ? { now: deps.now } : {}) });
  const bearer = config.tokenHeader.toLowerCase() === 'authorization';

  async function once(path: string, query: Record<string, string | number>, token: string, signal: AbortSignal) {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: deps.dispatcher,
        headers: { [config.tokenHeader]: bearer ? `Bearer ${token}` : token, accept: 'application/json' },
        signal,
      });
      recordHttpStatus(res.statusCode);
      return { status: res.statusCode, text: await res.body.text() };
    } catch (error) {
      if (signal.aborted) throw new CapillaryApiError('CAPILLARY_TIMEOUT', `GET ${path}: no answer within ${deps.timeoutMs} ms`, { path });
      const code = (error as { code?: unknown }).code;
      throw new CapillaryApiError('CAPILLARY_UNAVAILABLE', `GET ${path}: network error (${typeof code === 'string' ? code : 'unknown'})`, { path, cause: error });
    }
  }

  async function get(path: string, query: Record<string, string | number>, outer: AbortSignal | undefined): Promise<unknown> {
    const signal = AbortSignal.any([...(outer ? [outer] : []), AbortSignal.timeout(deps.timeoutMs)]);
    return withClientSpan('GET capillary', urlAttributes('GET', base + path), async () => {
      let token = await tokens.getToken(signal);
      let answer = await once(path, query, token, signal);
      if (answer.status === 401) {
        // The token expired early or was revoked: one fresh token, one retry.
        tokens.invalidate(token);
        deps.logger.warn({ path }, 'Capillary API refused the token; retrying once with a fresh one');
        token = await tokens.getToken(signal);
        answer = await once(path, query, token, signal);
      }
      const text = answer.text.split(token).join('[redacted]');
      if (answer.status < 200 || answer.status >= 300) {
        const detail = readCapillaryError(text);
        throw new CapillaryApiError(capillaryCodeForStatus(answer.status), `GET ${path}: HTTP ${answer.status}${detail ? `: ${detail}` : ''}`, { status: answer.status, path });
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CapillaryApiError('CAPILLARY_BAD_RESPONSE', `GET ${path}: HTTP ${answer.status} with a body that is not JSON`, { status: answer.status, path });
      }
    });
  }

  return {
    async deliveryCounts({ from, to }, signal) {
      const path = `${group}/metrics`;
      const counts = readDeliveryCounts(await get(path, { startDate: from, endDate: to }, signal));
      if (!counts) throw new CapillaryApiError('CAPILLARY_BAD_RESPONSE', `GET ${path}: no delivery counts in the answer`, { path });
      return counts;
    },

    async failedEvents({ from, to }, limit, signal) {
      const path = `${group}/logs`;
      const entries: DeliveryLogEntry[] = [];
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const json = await get(path, { startDate: from, endDate: to, status: 'FAILED', page, size: PAGE_SIZE }, signal);
        const list = readDeliveryLog(json);
        if (!list) throw new CapillaryApiError('CAPILLARY_BAD_RESPONSE', `GET ${path}: no list of log entries in the answer`, { path });
        // Filtered here too: a cluster that ignores `status` answers every delivery.
        entries.push(...list.filter((e) => isGaveUp(e) && (e.at === null || (e.at >= from && e.at < to))));
        if (entries.length > limit) return { entries: entries.slice(0, limit), truncated: true };
        if (list.length < PAGE_SIZE) return { entries, truncated: false };
      }
      return { entries, truncated: true };
    },
  };
}
