import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { notFound } from '../http/error-handler.js';

/**
 * No inline script or style, nothing from elsewhere: the console's own files and its own API only.
 * The admin token lives in the tab's sessionStorage; a strict policy is what keeps it there.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The console's static files (HTML, CSS, JS modules; no build step) live in src/ops/console/. Under
 * tsx and vitest this module is src/ops/; built, it is dist/src/ops/ and the files stay in src/.
 */
export function consoleRoot(): string {
  const candidates = [new URL('./console/', import.meta.url), new URL('../../../src/ops/console/', import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((dir) => existsSync(`${dir}index.html`));
  if (!found) throw new Error('console files not found next to src/ops (src/ops/console/index.html)');
  return found;
}

/**
 * The operator console at /console on the operations listener (issue 14). The files need no auth
 * (they hold no data); every API call they make carries the admin bearer token.
 */
export default async function consolePlugin(app: FastifyInstance, opts: { config: Config }) {
  if (!opts.config.adminToken) return;
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-cache');
  });
  // @fastify/static refuses a path that climbs out of the folder (`..`, raw or %2e-encoded) with a
  // 403, which the root handler turned into a 403 `bad_request`: the console has no such file, so 404.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.statusCode === 403) return notFound(request, reply);
    throw error;
  });
  // Loaded only for a console that is served: @fastify/static and its file-serving dependencies are
  // memory a relay without ADMIN_TOKEN would carry for nothing (docs/performance.md "Memory").
  const { default: fastifyStatic } = await import('@fastify/static');
  await app.register(fastifyStatic, { root: consoleRoot(), prefix: '/console/', decorateReply: false, index: ['index.html'] });
  app.get('/console', async (_request, reply) => reply.redirect('/console/', 302));
}
