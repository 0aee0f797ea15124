import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/postgres-server.js';
import { sendHeadersOnly } from '../helpers/raw-http.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The public edge against the real process and real sockets (issue 10): what is refused is refused
 * from the request line and headers, before any byte of the body is read. Every "headers only"
 * request below promises a 2 MB body and never sends it; the relay's own request timeout is set far
 * beyond the test's, so an answer can only come from the headers.
 */
const SECRET = 'edge-test-webhook-secret-5d1e';
const ADMIN = 'edge-test-admin-token-0123456789abcdef';
const PROMISED_BODY = { 'content-type': 'application/json', 'content-length': '2000000' };
const dir = mkdtempSync(join(tmpdir(), 'relay-edge-'));
const relays: RelayProcess[] = [];

async function relay(env: Record<string, string>): Promise<RelayProcess> {
  const name = `r${relays.length}`;
  const started = await startRelay({
    CAPILLARY_AUTH_SECRETS: SECRET,
    ADMIN_TOKEN: ADMIN,
    STORE_URL: `sqlite:${join(dir, `${name}.db`)}`,
    DRY_RUN_FILE: join(dir, `${name}.ndjson`),
    HTTP_REQUEST_TIMEOUT_MS: '300000',
    HTTP_HEADERS_TIMEOUT_MS: '300000',
    ...env,
  });
  relays.push(started);
  return started;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/webhooks/capillary`, { method: 'POST', headers: { authorization: SECRET, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

afterAll(async () => {
  await Promise.all(relays.map((r) => r.kill('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

describe('two listeners: the public port serves webhooks and health only', () => {
  let r: RelayProcess;
  beforeAll(async () => {
    r = await relay({});
    expect(r.opsUrl).not.toBe(r.url);
  });

  it('answers an unknown path with 404 from the headers, without reading the promised body, and closes', async () => {
    const answer = await sendHeadersOnly(r.url, 'POST', '/anything', PROMISED_BODY);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'not_found' });
    expect(answer.headers['connection']).toBe('close');
    await expect(answer.closed).resolves.toBe(true);
  });

  it('answers a wrong method on the webhook path with 404 from the headers', async () => {
    const answer = await sendHeadersOnly(r.url, 'PUT', '/webhooks/capillary', { ...PROMISED_BODY, authorization: SECRET });
    expect(answer.status).toBe(404);
  });

  it('answers a webhook without credentials with 401 from the headers, and closes', async () => {
    const answer = await sendHeadersOnly(r.url, 'POST', '/webhooks/capillary', PROMISED_BODY);
    expect(answer.status).toBe(401);
    expect(answer.headers['connection']).toBe('close');
    await expect(answer.closed).resolves.toBe(true);
  });

  it('refuses a body over the small default limit on every route but the webhook, from Content-Length alone', async () => {
    const answer = await sendHeadersOnly(r.opsUrl, 'POST', '/admin/events/replay', { ...PROMISED_BODY, authorization: `Bearer ${ADMIN}` });
    expect(answer.status).toBe(413);
  });

  it('serves /metrics and /admin/* on the operations port only', async () => {
    for (const path of ['/metrics', '/admin/dead-letters', '/admin/events/x']) {
      const publicAnswer = await fetch(`${r.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(publicAnswer.status, `public ${path}`).toBe(404);
      await publicAnswer.body?.cancel();
    }
    const metrics = await fetch(`${r.opsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('relay_webhooks_received_total');
    expect((await fetch(`${r.opsUrl}/admin/dead-letters`)).status).toBe(401);
    expect((await fetch(`${r.opsUrl}/admin/dead-letters`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
  });

  it('serves webhooks on the public port only, and health on both', async () => {
    expect((await post(r.url, sampleWithId('points-issued', 'edge-1'))).status).toBe(202);
    expect((await post(r.opsUrl, sampleWithId('points-issued', 'edge-2'))).status).toBe(404);
    for (const url of [r.url, r.opsUrl]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    }
  });
});

describe('one listener when OPS_PORT equals PORT', () => {
  it('serves webhooks, metrics and admin on the same port', async () => {
    const port = await freePort();
    const r = await relay({ PORT: String(port), OPS_PORT: String(port) });
    expect(r.opsUrl).toBe(r.url);
    expect((await post(r.url, sampleWithId('points-issued', 'one-1'))).status).toBe(202);
    expect((await fetch(`${r.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${r.url}/admin/events/one-1`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
  });
});

describe('client addresses: only what TRUST_PROXY vouches for', () => {
  it('with TRUST_PROXY=false a forged X-Forwarded-For does not pass the allow-list (403 from the headers)', async () => {
    const r = await relay({ WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8' });
    const answer = await sendHeadersOnly(r.url, 'POST', '/webhooks/capillary', { ...PROMISED_BODY, authorization: SECRET, 'x-forwarded-for': '10.1.2.3' });
    expect(answer.status).toBe(403);
    expect(answer.headers['connection']).toBe('close');
  });

  describe('behind a proxy at 127.0.0.1 (TRUST_PROXY=127.0.0.1)', () => {
    let r: RelayProcess;
    beforeAll(async () => {
      r = await relay({ TRUST_PROXY: '127.0.0.1', WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8', RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '600000' });
    });

    it('takes the client address the proxy vouches for, and ignores what the client prepended', async () => {
      expect((await post(r.url, sampleWithId('points-issued', 'xff-1'), { 'x-forwarded-for': '10.1.2.3' })).status).toBe(202);
      // The proxy appends the address it saw (192.0.2.1); the forged 10.9.9.9 before it is the client's own text.
      expect((await post(r.url, sampleWithId('points-issued', 'xff-2'), { 'x-forwarded-for': '10.9.9.9, 192.0.2.1' })).status).toBe(403);
      const refused = await waitFor(() =>
        r.logs.map((l) => JSON.parse(l) as { msg?: string; ip?: string; statusCode?: number }).find((l) => l.msg === 'request refused' && l.statusCode === 403),
      );
      expect(refused.ip).toBe('192.0.2.1');
    });

    it('limits bad credentials per client address before authenticating them (429 from the headers)', async () => {
      const from = { 'x-forwarded-for': '10.5.5.5' };
      for (let i = 0; i < 3; i++) {
        const under = await post(r.url, {}, { ...from, authorization: 'wrong-secret' });
        expect(under.status).toBe(401);
        // Under the limit nothing about it is said: Capillary reads no x-ratelimit-* header.
        expect([...under.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
      }
      const answer = await sendHeadersOnly(r.url, 'POST', '/webhooks/capillary', { ...PROMISED_BODY, ...from, authorization: 'wrong-secret' });
      expect(answer.status).toBe(429);
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      expect(answer.headers['connection']).toBe('close');
      // Forging more entries in front does not buy a fresh bucket; another client has its own.
      expect((await post(r.url, {}, { 'x-forwarded-for': '10.77.0.1, 10.5.5.5', authorization: 'wrong-secret' })).status).toBe(429);
      expect((await post(r.url, {}, { 'x-forwarded-for': '10.5.5.6', authorization: 'wrong-secret' })).status).toBe(401);
    });

    it('limits unknown paths too', async () => {
      const from = { 'x-forwarded-for': '10.6.6.6' };
      for (let i = 0; i < 3; i++) expect((await fetch(`${r.url}/nope`, { headers: from })).status).toBe(404);
      expect((await fetch(`${r.url}/nope`, { headers: from })).status).toBe(429);
    });
  });
});

