import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { batchRequestBody } from '../delivery/batcher.js';
import type { ClaimedMessage, MessageOutcome, RequestMeta, RetryReason, Sink } from '../delivery/types.js';
import type { Metrics } from '../metrics.js';
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

/**
 * The messages `batch[from..to)` of the send() in progress. A send only ever splits its batch into
 * halves, so what one request carries is a range: no per-message wrapper objects.
 */
type Range = { from: number; to: number };
const sizeOf = (range: Range) => range.to - range.from;
type Answer =
  | { kind: 'response'; status: number; headers: Dispatcher.ResponseData['headers']; text: string }
  | { kind: 'failure'; reason: 'network' | 'timeout'; detail: string };
/** An answer with when the request started and how long it took (the attempt history, issue 14). */
type Attempt = Answer & { at: number; durationMs: number };

interface SendContext {
  batch: ClaimedMessage[];
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

  /** One POST to the inlet, as a CLIENT span (inlet, batch size, Adobe's status and xactionIds). */
  function post(body: Buffer, ctx: SendContext, messages: number): Promise<Attempt> {
    const attributes = { ...urlAttributes('POST', batchUrl), 'aep.inlet_id': inletId ?? '', 'capillary.batch.size': messages };
    return withClientSpan('POST dcs batch', attributes, async (span) => {
      const attempt = await postOnce(body, ctx);
      recordAdobeAnswer(span, attempt.kind === 'response' ? { status: attempt.status, text: attempt.text } : { failure: attempt.reason });
      return attempt;
    });
  }

  async function postOnce(body: Buffer, ctx: SendContext): Promise<Attempt> {
    const at = Date.now();
    const startedAt = performance.now();
    const answer = await postUntimed(body, ctx);
    return { ...answer, at, durationMs: performance.now() - startedAt };
  }

  async function postUntimed(body: Buffer, ctx: SendContext): Promise<Answer> {
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

  function retryAll(ctx: SendContext, range: Range, reason: RetryReason, detail: string, retryAfterMs?: number, request?: RequestMeta): void {
    log.warn({ inletId, reason, detail, messages: sizeOf(range), retryAfterMs }, 'AEP delivery will be retried');
    for (let i = range.from; i < range.to; i += 1) {
      const outcome: MessageOutcome = { id: ctx.batch[i]!.id, outcome: 'retry', reason, detail };
      if (retryAfterMs !== undefined) outcome.retryAfterMs = retryAfterMs;
      if (request) outcome.request = request;
      ctx.outcomes[i] = outcome;
    }
  }

  function reject(ctx: SendContext, index: number, reason: string, detail: string, request?: RequestMeta): void {
    const message = ctx.batch[index]!;
    log.error({ inletId, messageId: message.id, eventId: message.eventId, reason, detail }, 'AEP rejected message');
    ctx.outcomes[index] = { id: message.id, outcome: 'rejected', reason, detail, ...(request ? { request } : {}) };
  }

  async function split(range: Range, ctx: SendContext): Promise<void> {
    const mid = range.from + Math.ceil(sizeOf(range) / 2);
    // One half after the other: halves of a batch Adobe just refused should not double the load.
    await sendRange({ from: range.from, to: mid }, ctx);
    await sendRange({ from: mid, to: range.to }, ctx);
  }

  async function sendRange(range: Range, ctx: SendContext): Promise<void> {
    const messages = sizeOf(range);
    if (messages === 0) return;
    const body = batchRequestBody(ctx.batch, range.from, range.to);
    if (messages > 1 && body.length > maxBytes) return split(range, ctx);

    const attempt = await post(body, ctx, messages);
    const request: RequestMeta = { at: attempt.at, durationMs: attempt.durationMs, status: attempt.kind === 'response' ? attempt.status : null, batchSize: messages };
    if (attempt.kind === 'failure') return retryAll(ctx, range, attempt.reason, attempt.detail, undefined, request);
    const { status, headers, text } = attempt;
    const json = parseJson(text);

    if (status === 200 || status === 207) {
      if (ctx.token !== undefined) deps.tokenProvider?.accepted(ctx.token);
      return settleEntries(range, status, json, ctx, request);
    }
    if (status === 400) {
      if (messages > 1) return split(range, ctx);
      return reject(ctx, range.from, 'invalid_xdm', problemDetail(status, json, text), request);
    }
    if (status === 413) {
      if (messages > 1) return split(range, ctx);
      return reject(ctx, range.from, 'too_large', problemDetail(status, json, text), request);
    }
    if (status === 401 || status === 403) {
      if (deps.tokenProvider && !ctx.authRefreshed && ctx.token !== undefined) {
        ctx.authRefreshed = true;
        deps.tokenProvider.invalidate(ctx.token);
        log.warn({ inletId, status }, 'AEP refused the IMS token; retrying once with a fresh one');
        const token = await fetchToken(ctx, range);
        if (token === undefined) return; // fetchToken settled the messages
        ctx.token = token;
        return sendRange(range, ctx);
      }
      return retryAll(ctx, range, 'auth', problemDetail(status, json, text), undefined, request);
    }
    if (status === 429) return retryAll(ctx, range, 'http_429', problemDetail(status, json, text), parseRetryAfter(headers['retry-after']), request);
    if (status >= 500) return retryAll(ctx, range, 'http_5xx', problemDetail(status, json, text), undefined, request);
    // Any other answer (404 unknown inlet, 3xx, ...) is the inlet's configuration, not the message's fault.
    return retryAll(ctx, range, 'http_4xx', problemDetail(status, json, text), undefined, request);
  }

  /** Adobe's `responses[]`, read by position: entry i is the answer for message `range.from + i`. */
  function settleEntries(range: Range, status: number, json: unknown, ctx: SendContext, request: RequestMeta): void {
    const responses = isRecord(json) && Array.isArray(json.responses) ? (json.responses as unknown[]) : undefined;
    // Nothing to read by position: Adobe may have ingested some, but re-sending is the safe side.
    if (!responses) return retryAll(ctx, range, 'http_5xx', `HTTP ${status} without responses[]`, undefined, request);
    // Retries are rare: counted per reason, with the first detail, for one log line each.
    let retries: Map<RetryReason, { messages: number; detail: string }> | undefined;
    let delivered = 0;
    for (let index = range.from; index < range.to; index += 1) {
      const entry = responses[index - range.from];
      const outcome = entryOutcome(ctx.batch[index]!.id, entry);
      if (outcome.outcome === 'rejected') {
        reject(ctx, index, outcome.reason, outcome.detail, request);
        continue;
      }
      const xactionId = isRecord(entry) && typeof entry.xactionId === 'string' ? entry.xactionId : undefined;
      outcome.request = xactionId === undefined ? request : { ...request, xactionId };
      ctx.outcomes[index] = outcome;
      if (outcome.outcome === 'delivered') {
        delivered += 1;
        continue;
      }
      retries ??= new Map();
      const seen = retries.get(outcome.reason);
      if (seen) seen.messages += 1;
      else retries.set(outcome.reason, { messages: 1, detail: outcome.detail });
    }
    for (const [reason, { messages, detail }] of retries ?? []) {
      log.warn({ inletId, reason, messages, detail }, 'AEP delivery of some messages will be retried');
    }
    log.debug({ inletId, delivered, messages: sizeOf(range) }, 'AEP batch answered');
  }

  /** A token for this send; on failure settles `range` as retries and returns undefined. */
  async function fetchToken(ctx: SendContext, range: Range): Promise<string | undefined> {
    if (!deps.tokenProvider) return undefined;
    const deadline = linkedAbort([ctx.signal], deps.requestTimeoutMs);
    try {
      return await deps.tokenProvider.getToken(deadline.signal);
    } catch (err) {
      if (ctx.signal.aborted) retryAll(ctx, range, 'network', 'aborted while waiting for an IMS token');
      else if (deadline.timedOut()) retryAll(ctx, range, 'timeout', `no IMS token within ${deps.requestTimeoutMs} ms`);
      else retryAll(ctx, range, 'auth', `IMS token unavailable: ${errorCode(err) ?? 'unknown error'}`);
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
      const all: Range = { from: 0, to: batch.length };
      const linked = linkedAbort([signal, closing.signal]);
      const ctx: SendContext = {
        batch,
        token: undefined,
        authRefreshed: false,
        signal: linked.signal,
        outcomes: new Array<MessageOutcome | undefined>(batch.length),
      };
      try {
        if (linked.signal.aborted) {
          retryAll(ctx, all, 'network', closing.signal.aborted ? 'sink closed' : 'aborted before sending');
        } else if (!deps.tokenProvider) {
          await sendRange(all, ctx);
        } else {
          ctx.token = await fetchToken(ctx, all);
          if (ctx.token !== undefined) await sendRange(all, ctx);
        }
      } catch (err) {
        // Not expected (post() catches transport errors); the contract is still one outcome each.
        log.error({ inletId, err: errorMessage(err) }, 'AEP send failed unexpectedly');
      } finally {
        linked.dispose();
      }
      for (let index = 0; index < batch.length; index += 1) {
        ctx.outcomes[index] ??= { id: batch[index]!.id, outcome: 'retry', reason: 'network', detail: 'not attempted' };
      }
      return ctx.outcomes as MessageOutcome[];
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
