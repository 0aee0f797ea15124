import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { notFound } from './error-handler.js';
import { isOpsRequest, servedHere } from './listeners.js';

/**
 * The public edge, in the order a request meets it, all in `onRequest`, so from the request line
 * and headers alone, before any byte of a body is read or parsed (Fastify reads bodies after
 * onRequest):
 *   1. the rate limit, per client address (the one TRUST_PROXY vouches for), on every public
 *      request: bad credentials, unknown paths and floods are limited alike;
 *   2. unknown paths, and routes that belong to the other listener: 404.
 * Authentication (401) and the source allow-list (403) follow in the webhook route's own onRequest.
 * Any refusal sent before the body was read closes the connection, so an unread body can neither
 * hold the socket nor be read as a next request.
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const env = opts.config.env;
    const splitListeners = opts.config.ops !== undefined;

    await app.register(rateLimit, {
      global: false,
      // Operators and Prometheus on the operations listener are not rate limited.
      allowList: (request) => splitListeners && isOpsRequest(request),
      // Under the limit no x-ratelimit-* headers: Capillary reads none, and three headers on every
      // 202 were a tenth of the rate limiter's garbage per webhook (heap profile under ingest).
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      // Answer 429 with Retry-After: Capillary retries a 429 for at least 7 days.
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        error: 'rate_limited',
        message: `Too many requests; retry after ${Math.ceil(context.ttl / 1000)} s`,
      }),
    });
    const rateLimited = app.rateLimit({ max: env.RATE_LIMIT_MAX, timeWindow: env.RATE_LIMIT_WINDOW_MS });
    app.addHook('onRequest', rateLimited);

    // Hooks every request passes take Fastify's callback form: an async hook costs a promise and a
    // microtask per request for work that never waits (the same for the other per-request hooks).
    app.addHook('onRequest', (request, reply, done) => {
      if (request.is404 || !servedHere(request, splitListeners)) {
        notFound(request, reply);
        return;
      }
      done();
    });

    app.addHook('onSend', (request, reply, payload, done) => {
      if (!request.raw.complete && reply.statusCode >= 400) reply.header('connection', 'close');
      done(null, payload);
    });

    // Set after the hooks above: Fastify gives the not-found handler the hooks registered before it.
    app.setNotFoundHandler(notFound);
  },
  { name: 'edge' },
);
