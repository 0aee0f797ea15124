import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { ClaimedMessage, MessageOutcome, RequestMeta, RetryReason, Sink } from '../delivery/types.js';
import type { Metrics } from '../ops/metrics.js';
import { recordAdobeAnswer, urlAttributes, withClientSpan } from '../tracing/spans.js';
import { entryOutcome, errorCode, errorMessage, isRecord, parseJson, problemDetail } from './dcs-response.js';
import type { TokenProvider } from './ims-token-provider.js';

/**
 * The AEP streaming ingestion (DCS) sink: batches to `/collection/batch/{inletId}`, one outcome per
 * message, never throws. Only Adobe saying a single message is bad (400/422 for it, or 413 for it
 * alone) dead-letters it; everything else is retried by the caller.
 * Wire behaviour: /work/shared/reference/adobe-streaming-and-ims.md.
 */
export interface AepSinkDeps {
  inletUrl: string;
  flowId?: string;
  /** undefined = unauthenticated inlet: no Authorization header. */
  tokenProvider: TokenProvider | undefined;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: Metrics;
  /** The `route` metric label (issue 13); unset leaves it out (the environment's route). */
  route?: string;
  requestTimeoutMs: number;
  /** Adobe's limit per request (the whole batch). Bigger batches are split before sending. */
  maxRequestBytes?: number;
  /** How long readiness() waits for a token. */
  readinessTimeoutMs?: number;
}

export const DEFAULT_MAX_REQUEST_BYTES = 1_000_000;

/**
 * `https://dcs.adobedc.net/collection/{inletId}` -> `https://dcs.adobedc.net/collection/batch/{inletId}`,
 * keeping the query string except `syncValidation` (single endpoint only). Accepts the batch form as is.
 */
export function batchUrlFromInletUrl(inletUrl: string): string {
  const bad = () => new ConfigError('AEP_INLET_URL', 'a streaming inlet URL like https://dcs.adobedc.net/collection/{inletId}');
  let url: URL;
  try {
    url = new URL(inletUrl.trim());
  } catch {
    throw bad();
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad();
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const at = segments.lastIndexOf('collection');
  const rest = at === -1 ? [] : segments.slice(at + 1);
  const inletId = rest[0] === 'batch' ? rest[1] : rest[0];
  if (at === -1 || !inletId || rest.length > (rest[0] === 'batch' ? 2 : 1)) throw bad();
  url.pathname = '/' + [...segments.slice(0, at), 'collection', 'batch', inletId].join('/');
  url.searchParams.delete('syncValidation');
  url.hash = '';
  return url.toString();
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

type Item = { index: number; message: ClaimedMessage };
type Answer =
  | { kind: 'response'; status: number; headers: Dispatcher.ResponseData['headers']; text: string }
  | { kind: 'failure'; reason: 'network' | 'timeout'; detail: string };
/** An answer with when the request started and how long it took (the attempt history, issue 14). */
type Attempt = Answer & { at: number; durationMs: number };

interface SendContext {
  token: string | undefined;
  /** The one token refresh allowed per send() after a 401/403. */
  authRefreshed: boolean;
  signal: AbortSignal;
  outcomes: Array<MessageOutcome | undefined>;
}

export function createAepSink(deps: AepSinkDeps): Sink {
  const batchUrl = batchUrlFromInletUrl(deps.inletUrl);
  const inletId = new URL(batchUrl).pathname.split('/').pop();
  const log = deps.logger;
  const maxBytes = deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const readinessTimeoutMs = deps.readinessTimeoutMs ?? 5_000;
  const { aepRequests, aepRequestDuration } = deps.metrics;
  const closing = new AbortController();

  function bodyOf(items: Item[]): string {
    // Bodies were serialized once at enqueue time: concatenated, never re-parsed.
    return '{"messages":[' + items.map((i) => i.message.body).join(',') + ']}';
  }

  /** One POST to the inlet, as a CLIENT span (inlet, batch size, Adobe's status and xactionIds). */
  function post(body: string, ctx: SendContext, messages: number): Promise<Attempt> {
    const attributes = { ...urlAttributes('POST', batchUrl), 'aep.inlet_id': inletId ?? '', 'capillary.batch.size': messages };
    return withClientSpan('POST dcs batch', attributes, async (span) => {
      const attempt = await postOnce(body, ctx);
      recordAdobeAnswer(span, attempt.kind === 'response' ? { status: attempt.status, text: attempt.text } : { failure: attempt.reason });
      return attempt;
    });
  }

  async function postOnce(body: string, ctx: SendContext): Promise<Attempt> {
    const at = Date.now();
    const startedAt = performance.now();
    const answer = await postUntimed(body, ctx);
    return { ...answer, at, durationMs: performance.now() - startedAt };
  }

  async function postUntimed(body: string, ctx: SendContext): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (ctx.token !== undefined) headers.authorization = `Bearer ${ctx.token}`;
    if (deps.flowId) headers['x-adobe-flow-id'] = deps.flowId;
    const deadline = linkedAbort([ctx.signal], deps.requestTimeoutMs);
    const started = performance.now();
    let status: number | undefined;
    try {
      const res = await request(batchUrl, {
        method: 'POST',
        dispatcher: deps.dispatcher,
        headers,
        body,
        signal: deadline.signal,
      });
      status = res.statusCode;
      // Read to the end even when unused: undici reuses the socket only after the body is consumed.
      const text = await res.body.text();
      return { kind: 'response', status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      if (deadline.timedOut()) return { kind: 'failure', reason: 'timeout', detail: `no answer within ${deps.requestTimeoutMs} ms` };
      if (ctx.signal.aborted) return { kind: 'failure', reason: 'network', detail: 'aborted before Adobe answered' };
      const code = errorCode(err);
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        return { kind: 'failure', reason: 'timeout', detail: code };
      }
      return { kind: 'failure', reason: 'network', detail: code ?? errorMessage(err) };
    } finally {
      deadline.dispose();
      const labels = deps.route !== undefined ? { route: deps.route } : {};
      aepRequests.inc({ status: status === undefined ? 'network_error' : String(status), ...labels });
      aepRequestDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }

  function settle(ctx: SendContext, items: Item[], make: (item: Item) => MessageOutcome): void {
    for (const item of items) ctx.outcomes[item.index] = make(item);
  }

  function retryAll(ctx: SendContext, items: Item[], reason: RetryReason, detail: string, retryAfterMs?: number, request?: RequestMeta): void {
    log.warn({ inletId, reason, detail, messages: items.length, retryAfterMs }, 'AEP delivery will be retried');
    settle(ctx, items, ({ message }) => ({
      id: message.id,
      outcome: 'retry',
      reason,
      detail,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(request ? { request } : {}),
    }));
  }

  function reject(ctx: SendContext, item: Item, reason: string, detail: string, request?: RequestMeta): void {
    log.error({ inletId, messageId: item.message.id, eventId: item.message.eventId, reason, detail }, 'AEP rejected message');
    ctx.outcomes[item.index] = { id: item.message.id, outcome: 'rejected', reason, detail, ...(request ? { request } : {}) };
  }

  async function split(items: Item[], ctx: SendContext): Promise<void> {
    const mid = Math.ceil(items.length / 2);
    // One half after the other: halves of a batch Adobe just refused should not double the load.
    await sendItems(items.slice(0, mid), ctx);
    await sendItems(items.slice(mid), ctx);
  }

  async function sendItems(items: Item[], ctx: SendContext): Promise<void> {
    if (items.length === 0) return;
    const body = bodyOf(items);
    if (items.length > 1 && Buffer.byteLength(body) > maxBytes) return split(items, ctx);

    const attempt = await post(body, ctx, items.length);
    const request: RequestMeta = { at: attempt.at, durationMs: attempt.durationMs, status: attempt.kind === 'response' ? attempt.status : null, batchSize: items.length };
    if (attempt.kind === 'failure') return retryAll(ctx, items, attempt.reason, attempt.detail, undefined, request);
    const { status, headers, text } = attempt;
    const json = parseJson(text);

    if (status === 200 || status === 207) {
      if (ctx.token !== undefined) deps.tokenProvider?.accepted(ctx.token);
      return settleEntries(items, status, json, ctx, request);
    }
    if (status === 400) {
      if (items.length > 1) return split(items, ctx);
      return reject(ctx, items[0]!, 'invalid_xdm', problemDetail(status, json, text), request);
    }
    if (status === 413) {
      if (items.length > 1) return split(items, ctx);
      return reject(ctx, items[0]!, 'too_large', problemDetail(status, json, text), request);
    }
    if (status === 401 || status === 403) {
      if (deps.tokenProvider && !ctx.authRefreshed && ctx.token !== undefined) {
        ctx.authRefreshed = true;
        deps.tokenProvider.invalidate(ctx.token);
        log.warn({ inletId, status }, 'AEP refused the IMS token; retrying once with a fresh one');
        const token = await fetchToken(ctx, items);
        if (token === undefined) return; // fetchToken settled the messages
        ctx.token = token;
        return sendItems(items, ctx);
      }
      return retryAll(ctx, items, 'auth', problemDetail(status, json, text), undefined, request);
    }
    if (status === 429) return retryAll(ctx, items, 'http_429', problemDetail(status, json, text), parseRetryAfter(headers['retry-after']), request);
    if (status >= 500) return retryAll(ctx, items, 'http_5xx', problemDetail(status, json, text), undefined, request);
    // Any other answer (404 unknown inlet, 3xx, ...) is the inlet's configuration, not the message's fault.
    return retryAll(ctx, items, 'http_4xx', problemDetail(status, json, text), undefined, request);
  }

  function settleEntries(items: Item[], status: number, json: unknown, ctx: SendContext, request: RequestMeta): void {
    const responses = isRecord(json) && Array.isArray(json.responses) ? (json.responses as unknown[]) : undefined;
    // Nothing to read by position: Adobe may have ingested some, but re-sending is the safe side.
    if (!responses) return retryAll(ctx, items, 'http_5xx', `HTTP ${status} without responses[]`, undefined, request);
    const retries = new Map<RetryReason, Item[]>();
    let delivered = 0;
    items.forEach((item, position) => {
      const entry = responses[position];
      const outcome = entryOutcome(item.message.id, entry);
      if (outcome.outcome === 'rejected') return reject(ctx, item, outcome.reason, outcome.detail, request);
      const xactionId = isRecord(entry) && typeof entry.xactionId === 'string' ? entry.xactionId : undefined;
      ctx.outcomes[item.index] = { ...outcome, request: xactionId === undefined ? request : { ...request, xactionId } };
      if (outcome.outcome === 'delivered') delivered += 1;
      else retries.set(outcome.reason, [...(retries.get(outcome.reason) ?? []), item]);
    });
    for (const [reason, group] of retries) {
      const first = ctx.outcomes[group[0]!.index];
      log.warn(
        { inletId, reason, messages: group.length, detail: first?.outcome === 'retry' ? first.detail : undefined },
        'AEP delivery of some messages will be retried',
      );
    }
    log.debug({ inletId, delivered, messages: items.length }, 'AEP batch answered');
  }

  /** A token for this send; on failure settles `items` as retries and returns undefined. */
  async function fetchToken(ctx: SendContext, items: Item[]): Promise<string | undefined> {
    if (!deps.tokenProvider) return undefined;
    const deadline = linkedAbort([ctx.signal], deps.requestTimeoutMs);
    try {
      return await deps.tokenProvider.getToken(deadline.signal);
    } catch (err) {
      if (ctx.signal.aborted) retryAll(ctx, items, 'network', 'aborted while waiting for an IMS token');
      else if (deadline.timedOut()) retryAll(ctx, items, 'timeout', `no IMS token within ${deps.requestTimeoutMs} ms`);
      else retryAll(ctx, items, 'auth', `IMS token unavailable: ${errorCode(err) ?? 'unknown error'}`);
      return undefined;
    } finally {
      deadline.dispose();
    }
  }

  const tokenProvider = deps.tokenProvider;
  return {
    name: 'aep',
    ...(tokenProvider ? { tokenStatus: () => tokenProvider.status() } : {}),

    async send(batch, signal) {
      if (batch.length === 0) return [];
      const items: Item[] = batch.map((message, index) => ({ index, message }));
      const linked = linkedAbort([signal, closing.signal]);
      const ctx: SendContext = {
        token: undefined,
        authRefreshed: false,
        signal: linked.signal,
        outcomes: new Array<MessageOutcome | undefined>(batch.length),
      };
      try {
        if (linked.signal.aborted) {
          retryAll(ctx, items, 'network', closing.signal.aborted ? 'sink closed' : 'aborted before sending');
        } else if (!deps.tokenProvider) {
          await sendItems(items, ctx);
        } else {
          ctx.token = await fetchToken(ctx, items);
          if (ctx.token !== undefined) await sendItems(items, ctx);
        }
      } catch (err) {
        // Not expected (post() catches transport errors); the contract is still one outcome each.
        log.error({ inletId, err: errorMessage(err) }, 'AEP send failed unexpectedly');
      } finally {
        linked.dispose();
      }
      return items.map(
        ({ index, message }): MessageOutcome =>
          ctx.outcomes[index] ?? { id: message.id, outcome: 'retry', reason: 'network', detail: 'not attempted' },
      );
    },

    async readiness() {
      if (!deps.tokenProvider) return { ok: true };
      if (deps.tokenProvider.status().valid) return { ok: true };
      const deadline = linkedAbort([closing.signal], readinessTimeoutMs);
      try {
        await deps.tokenProvider.getToken(deadline.signal);
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: `no IMS token: ${errorCode(err) ?? 'unknown error'}` };
      } finally {
        deadline.dispose();
      }
    },

    async close() {
      // The dispatcher and token provider are injected: their owner closes them.
      closing.abort();
    },
  };
}

/**
 * An AbortSignal that fires when any parent fires or after `timeoutMs`, with explicit cleanup:
 * listeners on long-lived parents are removed and the timer cleared when the request is over.
 */
function linkedAbort(parents: AbortSignal[], timeoutMs?: number) {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort();
  for (const p of parents) {
    if (p.aborted) controller.abort();
    else p.addEventListener('abort', onAbort, { once: true });
  }
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      if (timer) clearTimeout(timer);
      for (const p of parents) p.removeEventListener('abort', onAbort);
    },
  };
}
