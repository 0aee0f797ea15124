import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../errors.js';

/** Seconds a caller should wait before retrying after a 503 (Capillary, load balancers). */
export const RETRY_AFTER_SECONDS = 5;

/** Fastify's own client-error codes, translated to the relay's stable error codes. */
const FASTIFY_CODES: Record<string, { status: number; error: string; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type', message: 'The body must be JSON (Content-Type: application/json)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_body', message: 'The Content-Length does not match the body' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'body_too_large', message: 'The body is larger than this relay accepts' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_json', message: 'The body is empty, not JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_json', message: 'The body is not valid JSON' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, error: 'unsupported_media_type', message: 'The Content-Type header is empty' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, error: 'unsupported_media_type', message: 'The Content-Type header is not valid' },
};

export const notFound = (request: FastifyRequest, reply: FastifyReply) => sendError(reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`);

export function sendError(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.code(status).type('application/json').send({ error, message });
}

/**
 * The one root error handler: known errors become `{error, message}` with their status; anything
 * unexpected is logged with the request id and answered 503 (so a webhook sender retries) with no
 * internal detail. It never answers 400 for the relay's own fault.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // The rate limit answers every path, known or not (src/http/edge.ts).
    if (err.statusCode === 429) return reply.code(429).send({ error: 'rate_limited', message: err.message });
    // Whatever else goes wrong on an unknown path, the path is what is wrong.
    if (request.is404) return notFound(request, reply);
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return sendError(reply, known.status, known.error, known.message);
    if (err instanceof SyntaxError) return sendError(reply, 400, 'invalid_json', 'The body is not valid JSON');
    if (err.validation) {
      return sendError(reply, 400, 'invalid_request', `The request is not valid: ${err.message}`.slice(0, 500));
    }
    if (err instanceof RelayError && err.statusCode < 500) return sendError(reply, err.statusCode, err.code.toLowerCase(), err.message);
    if (err instanceof RelayError) {
      request.log.warn({ err, code: err.code }, 'request failed: relay unavailable');
      return sendError(reply, 503, err.code.toLowerCase(), err.message);
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'bad_request', 'The request could not be handled as sent');
    }
    request.log.error({ err }, 'unexpected error');
    return sendError(reply, 503, 'internal_error', 'The relay could not handle the request; retry later');
  });
}
