import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, adminHeaders, authHeaders, buildTestApp, TEST_SECRET, type TestApp } from '../helpers/build-app.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * At debug level, on success and on every failure path, no log line carries the Adobe client
 * secret, an access token IMS issued, the webhook secret or the admin token. Each case also checks
 * that its path really ran (the line it should log is there), so a silent app cannot pass.
 */

let ims: FakeIms;
let dcs: FakeDcs;
let t: TestApp | undefined;

beforeAll(async () => {
  ims = await startFakeIms({ clientSecret: 'adobe-client-secret-5d1e-NEVER-LOG' });
  dcs = await startFakeDcs({ ims });
});
afterEach(async () => {
  await t?.close();
  t = undefined;
  ims.setFailure(null);
  dcs.setFault(null);
});
afterAll(async () => {
  await ims?.close();
  await dcs?.close();
});

const aepEnv = () => ({
  AEP_INLET_URL: dcs.inletUrl(),
  AEP_EVENT_DATASET_ID: 'dataset-log-test',
  AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/tenant/schemas/log-test',
  ADOBE_IMS_URL: ims.urls.v3,
  ADOBE_CLIENT_ID: ims.clientId,
  ADOBE_CLIENT_SECRET: ims.clientSecret,
  DELIVERY_RETRY_BASE_MS: '20',
  DELIVERY_RETRY_MAX_MS: '200',
});

/** Everything that must never be logged, including each token's signature on its own. */
function secrets(): string[] {
  const tokens = ims.issuedTokens.flatMap((token) => [token, token.split('.')[2] ?? token]);
  return [ims.clientSecret, TEST_SECRET, ADMIN_TOKEN, ...tokens].filter((s) => s.length >= 8);
}

function expectNoSecrets(lines: readonly string[]) {
  expect(lines.length).toBeGreaterThan(0);
  for (const secret of secrets()) {
    const leaking = lines.filter((line) => line.includes(secret));
    expect(leaking, `a log line contains a secret (${secret.slice(0, 6)}...)`).toEqual([]);
  }
}

const hasLine = (logs: { lines: string[] }, pattern: RegExp) => logs.lines.some((line) => pattern.test(line));

async function post(app: TestApp['app'], eventId: string, headers: Record<string, string> = authHeaders) {
  return app.inject({ method: 'POST', url: '/webhooks/capillary', headers, payload: JSON.stringify(sampleWithId('points-issued', eventId)) });
}

const delivered = (eventId: string) => dcs.waitFor((d) => d.accepted.some((m) => m.id === eventId));

describe('no secret or token in the logs (LOG_LEVEL=debug)', () => {
  it('on success: webhook accepted, token minted, batch delivered, admin and ops routes read', async () => {
    t = await buildTestApp({ ...aepEnv(), LOG_LEVEL: 'trace' });
    expect((await post(t.app, 'log-ok-1')).statusCode).toBe(202);
    await delivered('log-ok-1');
    expect((await t.app.inject({ method: 'GET', url: '/admin/events/log-ok-1', headers: adminHeaders })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    const logs = t.logs;
    await waitFor(() => hasLine(logs, /AEP batch answered/), { what: 'the debug line of the delivered batch' });
    expect(ims.issuedTokens.length).toBeGreaterThan(0);
    expectNoSecrets(logs.lines);
  });

  it('on bad auth: a wrong webhook secret, the secret in another header, a wrong admin token', async () => {
    t = await buildTestApp(aepEnv());
    // Near misses contain the real secret: a log of the header would show it.
    const wrong: Record<string, string>[] = [
      { authorization: `${TEST_SECRET}-wrong`, 'content-type': 'application/json' },
      { 'x-capillary-secret': TEST_SECRET, 'content-type': 'application/json' },
      { 'content-type': 'application/json' },
    ];
    for (const headers of wrong) expect((await post(t.app, 'log-bad-auth', headers)).statusCode).toBe(401);
    for (const authorization of [`Bearer ${ADMIN_TOKEN}x`, ADMIN_TOKEN, `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`]) {
      expect((await t.app.inject({ method: 'GET', url: '/admin/dead-letters', headers: { authorization } })).statusCode).toBe(401);
    }
    expect((await t.app.inject({ method: 'GET', url: `/admin/events/x?token=${ADMIN_TOKEN}`, headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect(t.logs.lines.filter((line) => line.includes('"statusCode":401')).length).toBe(7);
    expectNoSecrets(t.logs.lines);
    expect(t.logs.text).not.toContain(Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64'));
  });

  it.each([
    ['IMS refuses the client (invalid_client)', { kind: 'invalid_client' } as const, /"imsError":"invalid_client"/],
    ['IMS answers 5xx', { kind: 'status', status: 503 } as const, /"status":503/],
  ])('on an IMS error: %s', async (_why, failure, evidence) => {
    ims.setFailure(failure);
    t = await buildTestApp(aepEnv());
    expect((await post(t.app, `log-ims-${failure.kind}`)).statusCode).toBe(202);
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const logs = t.logs;
    await waitFor(() => hasLine(logs, /IMS token request failed/) && hasLine(logs, evidence), { what: 'the IMS failure in the logs' });
    await waitFor(() => hasLine(logs, /delivery attempt failed/), { what: 'the delivery retry in the logs' });
    expectNoSecrets(logs.lines);
  });

  it('on Adobe 401: a revoked token is dropped and replaced, and a lasting 401 is retried', async () => {
    t = await buildTestApp(aepEnv());
    expect((await post(t.app, 'log-401-a')).statusCode).toBe(202);
    await delivered('log-401-a');
    ims.revokeTokens();
    expect((await post(t.app, 'log-401-b')).statusCode).toBe(202);
    await delivered('log-401-b');
    expect(dcs.requests.some((r) => r.outcome === 401)).toBe(true);
    // Adobe keeps answering 401 for a while, even to a fresh token.
    dcs.setFault({ kind: 'status', status: 401 }, { times: 3 });
    expect((await post(t.app, 'log-401-c')).statusCode).toBe(202);
    await delivered('log-401-c');
    const logs = t.logs;
    expect(hasLine(logs, /AEP refused the IMS token/)).toBe(true);
    expect(hasLine(logs, /IMS token invalidated/)).toBe(true);
    expect(ims.issuedTokens.length).toBeGreaterThanOrEqual(3);
    expectNoSecrets(logs.lines);
  });
});

describe('no secret or token in the real process output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-log-secrets-'));
  let relay: RelayProcess | undefined;
  afterAll(async () => {
    await relay?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints none on stdout or stderr through success, bad auth, IMS failure and Adobe 401', async () => {
    relay = await startRelay({
      ...aepEnv(),
      CAPILLARY_AUTH_SECRETS: TEST_SECRET,
      ADMIN_TOKEN,
      LOG_LEVEL: 'debug',
      STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
      DRY_RUN_FILE: join(dir, 'dry-run.ndjson'),
      DELIVERY_LINGER_MS: '0',
    });
    const send = async (eventId: string, headers: Record<string, string> = authHeaders) => {
      const res = await request(`${relay!.url}/webhooks/capillary`, { method: 'POST', headers, body: JSON.stringify(sampleWithId('points-issued', eventId)) });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await send('proc-ok')).toBe(202);
    await delivered('proc-ok');
    expect(await send('proc-bad', { authorization: `${TEST_SECRET}x`, 'content-type': 'application/json' })).toBe(401);
    const admin = await request(`${relay.opsUrl}/admin/events/proc-ok`, { headers: adminHeaders });
    await admin.body.dump();
    expect(admin.statusCode).toBe(200);

    ims.revokeTokens();
    ims.setFailure({ kind: 'invalid_client' }, { times: 1 });
    expect(await send('proc-401')).toBe(202);
    await delivered('proc-401');

    const logs = relay.logs;
    await relay.kill('SIGTERM');
    expect(logs.some((line) => line.includes('"imsError":"invalid_client"'))).toBe(true);
    expect(logs.some((line) => line.includes('AEP refused the IMS token'))).toBe(true);
    expectNoSecrets(logs);
  });
});
