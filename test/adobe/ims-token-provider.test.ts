import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Agent } from 'undici';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import {
  createImsTokenProvider,
  ImsTokenError,
  type ImsTokenProviderDeps,
  type TokenProvider,
} from '../../src/adobe/ims-token-provider.js';
import { expiresInUnit, MAX_TOKEN_LIFETIME_MS, tokenLifetime } from '../../src/adobe/ims-token-lifetime.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { captureLogger } from '../helpers/build-app.js';
import { startFakeIms, type FakeIms, type FakeImsOptions } from '../helpers/fake-adobe.js';

const SCOPES = 'openid,AdobeID,read_organizations,additional_info.projectedProductContext,session';

let ims: FakeIms | undefined;
let dispatcher: Agent;
let metrics: Metrics;
let logs: ReturnType<typeof captureLogger>;
const providers: TokenProvider[] = [];

beforeEach(() => {
  dispatcher = createDispatcher();
  metrics = createMetrics({ defaultMetrics: false });
  logs = captureLogger();
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  // Nothing logged, ever, may carry the secret or a token IMS issued.
  const all = logs.lines.join('\n');
  if (ims) {
    expect(all).not.toContain(ims.clientSecret);
    for (const t of ims.issuedTokens) expect(all).not.toContain(t);
    await ims.close();
    ims = undefined;
  }
  await dispatcher.close();
});

async function setup(fake: FakeImsOptions = {}, deps: Partial<ImsTokenProviderDeps> = {}) {
  ims = await startFakeIms(fake);
  const provider = createImsTokenProvider({
    imsUrl: ims.urls.v3,
    clientId: ims.clientId,
    clientSecret: ims.clientSecret,
    scopes: SCOPES,
    dispatcher,
    logger: logs.logger,
    metrics,
    retryBaseMs: 5,
    retryMaxMs: 20,
    ...deps,
  });
  providers.push(provider);
  return { ims, provider };
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('token lifetime units', () => {
  it('reads expires_in as seconds on v3 and v2, milliseconds on /ims/token and v1', () => {
    expect(expiresInUnit('https://ims-na1.adobelogin.com/ims/token/v3', 86399)).toBe('seconds');
    expect(expiresInUnit('https://ims-na1.adobelogin.com/ims/token/v2/', 86399)).toBe('seconds');
    expect(expiresInUnit('https://ims-na1.adobelogin.com/ims/token', 86399994)).toBe('milliseconds');
    expect(expiresInUnit('https://ims-na1.adobelogin.com/ims/token/v1', 86399994)).toBe('milliseconds');
    // An undocumented path: decided by magnitude.
    expect(expiresInUnit('https://proxy.example/token', 86399)).toBe('seconds');
    expect(expiresInUnit('https://proxy.example/token', 86399994)).toBe('milliseconds');
  });

  it('trusts JWT created_at/expires_in claims (strings or numbers) over expires_in', () => {
    const now = 1_700_000_000_000;
    const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
    // v3 path with a milliseconds expires_in (would be 1,000 days): the claims win.
    const a = tokenLifetime('https://x/ims/token/v3', { access_token: jwt({ created_at: String(now - 1000), expires_in: '86400000' }), expires_in: 86_400_000 }, now);
    expect(a).toMatchObject({ source: 'jwt', expiresAt: now - 1000 + 86_400_000, clamped: false });
    const b = tokenLifetime('https://x/ims/token', { access_token: jwt({ created_at: now, expires_in: 3_600_000 }), expires_in: 1 }, now);
    expect(b).toMatchObject({ source: 'jwt', expiresAt: now + 3_600_000 });
    // created_at far from our clock: keep the lifetime, count it from now.
    const c = tokenLifetime('https://x/ims/token/v3', { access_token: jwt({ created_at: now - 3 * 3_600_000, expires_in: '86400000' }) }, now);
    expect(c.expiresAt).toBe(now + 86_400_000);
  });

  it('clamps nonsense lifetimes', () => {
    const now = 1_000;
    // Milliseconds read as seconds: 1,000 days. Clamped to the maximum.
    expect(tokenLifetime('https://x/ims/token/v3', { access_token: 'opaque', expires_in: 86_399_994 }, now)).toMatchObject({
      lifetimeMs: MAX_TOKEN_LIFETIME_MS,
      clamped: true,
    });
    for (const bad of [undefined, 'soon', -5, 0, Number.NaN]) {
      const life = tokenLifetime('https://x/ims/token/v3', { access_token: 'opaque', expires_in: bad }, now);
      expect(life).toMatchObject({ source: 'fallback', clamped: true });
      expect(life.lifetimeMs).toBeGreaterThan(0);
      expect(life.lifetimeMs).toBeLessThan(3_600_000);
    }
    expect(tokenLifetime('https://x/ims/token/v3', { access_token: 'opaque', expires_in: '3600' }, now)).toMatchObject({
      expiresAt: now + 3_600_000,
      source: 'seconds',
    });
  });
});

describe('IMS token provider against the fake IMS', () => {
  const now = () => 1_700_000_000_000;

  it('v3 answers seconds: an opaque token lives 86399 s', async () => {
    const { provider, ims } = await setup({ jwt: false, now }, { now });
    const token = await provider.getToken();
    expect(ims.tokenState(token)).toBe('valid');
    expect(provider.status()).toEqual({ valid: true, expiresAt: now() + 86_399_000 });
    const form = ims.requests[0]!;
    expect(form).toMatchObject({ path: '/ims/token/v3', clientIdOk: true, clientSecretOk: true, grantType: 'client_credentials', scope: SCOPES });
    expect(form.contentType).toBe('application/x-www-form-urlencoded');
    expect(await counter('relay_ims_token_requests_total', { outcome: 'success' })).toBe(1);
    const gauge = (await metrics.registry.getSingleMetric('relay_ims_token_expiry_seconds')?.get())?.values[0]?.value;
    expect(gauge).toBe(86_399);
  });

  it('unversioned /ims/token and /v1 answer milliseconds', async () => {
    const { ims } = await setup({ jwt: false, now, lifetimeMs: 86_399_994 }, { now });
    for (const url of [ims.urls.unversioned, ims.urls.v1]) {
      const p = createImsTokenProvider({ imsUrl: url, clientId: ims.clientId, clientSecret: ims.clientSecret, scopes: SCOPES, dispatcher, logger: logs.logger, metrics, now });
      providers.push(p);
      await p.getToken();
      expect(p.status().expiresAt).toBe(now() + 86_399_994);
    }
    expect(ims.requests.map((r) => r.path)).toEqual(['/ims/token', '/ims/token/v1']);
  });

  it('JWT claims win over a v3 expires_in given in the wrong unit', async () => {
    // IMS (here) says 86399994 on v3: read as seconds that is 1,000 days; the claims say 1 h.
    const { provider } = await setup(
      { now, lifetimeMs: 3_600_000, expiresIn: () => 86_399_994 },
      { now },
    );
    await provider.getToken();
    expect(provider.status().expiresAt).toBe(now() + 3_600_000);
  });

  it('single flight: 50 concurrent getToken calls mint once', async () => {
    const { provider, ims } = await setup({ jwt: true });
    ims.setFailure({ kind: 'hold' }, { times: 1 });
    const calls = Array.from({ length: 50 }, () => provider.getToken());
    await ims.waitFor((f) => f.requests.length === 1);
    ims.release();
    const tokens = await Promise.all(calls);
    expect(new Set(tokens).size).toBe(1);
    expect(ims.mints).toBe(1);
    expect(ims.requests).toHaveLength(1);
    // And cached afterwards.
    await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    expect(ims.requests).toHaveLength(1);
  });

  it('refreshes in the background ahead of expiry (timer) while the old token is served', async () => {
    // 600 ms token: the refresh timer fires 60 ms before expiry (min(5 min, 10%)). The provider's
    // clock stands still, so however late this test runs the old token is still valid to it: the
    // test waits for the timer's request, never for a window of wall-clock time.
    const clock = 1_700_000_000_000;
    const { provider, ims } = await setup({ lifetimeMs: 600 }, { now: () => clock });
    const first = await provider.getToken();
    ims.setFailure({ kind: 'hold' }, { times: 1 });
    await ims.waitFor((f) => f.requests.length === 2); // the timer fired a refresh, now held
    expect(await provider.getToken()).toBe(first);
    expect(provider.status().valid).toBe(true);
    ims.release();
    await ims.waitFor((f) => f.mints === 2);
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(ims.requests).toHaveLength(2);
  });

  it('refreshes when the clock passes the refresh point even if the timer has not fired', async () => {
    let clock = 1_700_000_000_000;
    const { provider, ims } = await setup({ jwt: false, now: () => clock }, { now: () => clock });
    const first = await provider.getToken();
    clock += 86_399_000 - 60_000; // one minute before expiry, past the 5 min refresh point
    ims.setFailure({ kind: 'hold' }, { times: 1 });
    expect(await provider.getToken()).toBe(first);
    await ims.waitFor((f) => f.requests.length === 2);
    expect(await provider.getToken()).toBe(first); // still served during the refresh
    ims.release();
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(ims.mints).toBe(2);
  });

  it('IMS failing while a valid token exists: old token served, refresh retried with backoff', async () => {
    let clock = 1_700_000_000_000;
    const { provider, ims } = await setup({ jwt: false, now: () => clock }, { now: () => clock });
    const first = await provider.getToken();
    clock += 86_399_000 - 60_000;
    ims.setFailure({ kind: 'status', status: 503 }, { times: 3 });
    expect(await provider.getToken()).toBe(first);
    await ims.waitFor((f) => f.mints === 2); // three 503s, then success, all in the background
    expect(ims.requests.map((r) => r.outcome)).toEqual([200, 503, 503, 503, 200]);
    await vi.waitFor(async () => expect(await provider.getToken()).not.toBe(first));
    expect(await counter('relay_ims_token_requests_total', { outcome: 'error' })).toBe(3);
    const warnings = logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'IMS token request failed');
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({ level: 40, code: 'IMS_UNAVAILABLE', status: 503, imsError: 'server_error', servingCachedToken: true });
    expect(warnings[0].debugId).toBe(ims.requests[1]!.debugId);
  });

  it('no valid token and IMS rejects the client: IMS_REJECTED without the secret', async () => {
    const { provider, ims } = await setup({}, { clientSecret: 'wrong-secret-value-XYZ' });
    const err = await provider.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImsTokenError);
    expect(err).toMatchObject({ code: 'IMS_REJECTED', status: 400, imsError: 'invalid_client' });
    expect((err as Error).message).toContain('invalid client_secret parameter');
    expect((err as Error).message).not.toContain('wrong-secret-value-XYZ');
    expect(JSON.stringify(err)).not.toContain('wrong-secret-value-XYZ');
    expect(ims.requests[0]!.clientSecretOk).toBe(false);
    expect(provider.status()).toEqual({ valid: false, lastErrorCode: 'IMS_REJECTED' });
    expect(logs.lines.join('\n')).not.toContain('wrong-secret-value-XYZ');
    expect(JSON.parse(logs.lines.at(-1)!)).toMatchObject({ imsError: 'invalid_client', debugId: ims.requests[0]!.debugId });
  });

  it.each([
    ['5xx', { kind: 'status', status: 502 }],
    ['connection reset', { kind: 'reset' }],
  ] as const)('no valid token and IMS %s: IMS_UNAVAILABLE', async (_name, failure) => {
    const { provider, ims } = await setup();
    ims.setFailure(failure, { times: 1 });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_UNAVAILABLE' });
    const outcome = failure.kind === 'reset' ? 'network_error' : 'error';
    expect(await counter('relay_ims_token_requests_total', { outcome })).toBe(1);
  });

  it('a slow IMS times out as IMS_UNAVAILABLE', async () => {
    const { provider, ims } = await setup({}, { requestTimeoutMs: 50 });
    ims.setFailure({ kind: 'hold' });
    const err = await provider.getToken().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IMS_UNAVAILABLE' });
    expect((err as Error).message).toContain('timed out');
  });

  it('after a failure with no token, does not ask IMS again before the backoff', async () => {
    let clock = 0;
    const { provider, ims } = await setup({}, { now: () => clock, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    ims.setFailure({ kind: 'status', status: 503 }, { times: 1 });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_UNAVAILABLE' });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_UNAVAILABLE' });
    expect(ims.requests).toHaveLength(1);
    clock += 60_001;
    await expect(provider.getToken()).resolves.toEqual(expect.any(String));
    expect(ims.requests).toHaveLength(2);
  });

  it('invalidate(token) after an Adobe 401: the next getToken mints once; stale invalidations are ignored', async () => {
    const { provider, ims } = await setup();
    const first = await provider.getToken();
    provider.invalidate(first);
    expect(provider.status().valid).toBe(false);
    const again = await Promise.all(Array.from({ length: 10 }, () => provider.getToken()));
    expect(new Set(again).size).toBe(1);
    expect(again[0]).not.toBe(first);
    expect(ims.mints).toBe(2);
    provider.invalidate(first); // a late caller still holding the old token
    expect(await provider.getToken()).toBe(again[0]);
    expect(ims.mints).toBe(2);
  });

  it('a 403 storm (Adobe refuses every new token): one free re-mint, then mints share the IMS backoff', async () => {
    let clock = 1_700_000_000_000;
    const { provider, ims } = await setup({ jwt: false, now: () => clock }, { now: () => clock, retryBaseMs: 10_000, retryMaxMs: 60_000 });
    // Every batch gets a token, is refused with 403 and invalidates it: 100 batches at one instant.
    const refused: string[] = [];
    for (let batch = 0; batch < 100; batch += 1) {
      const token = await provider.getToken().catch((err: unknown) => err as ImsTokenError);
      if (typeof token !== 'string') {
        expect(token).toMatchObject({ code: 'IMS_BACKOFF' });
        continue;
      }
      refused.push(token);
      provider.invalidate(token);
    }
    // The first token, and one free replacement (a revoked token is cured at once); then nothing.
    expect(ims.requests).toHaveLength(2);
    expect(refused).toHaveLength(2);
    // The next mint waits for the backoff (10 s step, equal jitter: 5 to 10 s) and the one after doubles.
    clock += 10_000;
    provider.invalidate(await provider.getToken());
    expect(ims.requests).toHaveLength(3);
    clock += 9_999;
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_BACKOFF' });
    clock += 10_001;
    await expect(provider.getToken()).resolves.toEqual(expect.any(String));
    expect(ims.requests).toHaveLength(4);
  });

  it('a refused token that Adobe had accepted, or that served past the backoff ceiling, is replaced at once', async () => {
    let clock = 1_700_000_000_000;
    const { provider, ims } = await setup({ jwt: false, now: () => clock }, { now: () => clock, retryBaseMs: 10_000, retryMaxMs: 60_000 });
    for (let i = 0; i < 5; i += 1) {
      const token = await provider.getToken();
      provider.accepted(token);
      provider.invalidate(token);
    }
    expect(ims.requests).toHaveLength(5);
    for (let i = 0; i < 5; i += 1) {
      const token = await provider.getToken();
      clock += 60_000; // served a minute, never reported accepted
      provider.invalidate(token);
    }
    await provider.getToken();
    expect(ims.requests).toHaveLength(11);
  });

  it('a token said to live 1 ms is not re-requested in a loop: mints are paced by the backoff', async () => {
    let clock = 1_700_000_000_000;
    // The JWT claims say 1 ms (v3 expires_in cannot say less than 1 s; the claims win).
    const { provider, ims } = await setup({ now: () => clock, jwtLifetimeMs: 1 }, { now: () => clock, retryBaseMs: 10_000, retryMaxMs: 60_000 });
    await provider.getToken();
    for (let call = 0; call < 100; call += 1) {
      clock += 2; // the token has expired
      await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_BACKOFF' });
    }
    expect(ims.requests).toHaveLength(1);
    clock += 10_000;
    await expect(provider.getToken()).resolves.toEqual(expect.any(String));
    expect(ims.requests).toHaveLength(2);
    const warnings = logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'IMS token lives under a minute; next one paced by the backoff');
    expect(warnings).toHaveLength(2);
  });

  it("a caller's abort rejects only that caller; the shared mint carries on", async () => {
    const { provider, ims } = await setup();
    ims.setFailure({ kind: 'hold' }, { times: 1 });
    const ac = new AbortController();
    const aborted = provider.getToken(ac.signal);
    const other = provider.getToken();
    await ims.waitFor((f) => f.requests.length === 1);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'IMS_ABORTED' });
    ims.release();
    await expect(other).resolves.toEqual(expect.any(String));
    expect(ims.mints).toBe(1);
  });

  it('close() aborts the in-flight request and clears timers', async () => {
    const { provider, ims } = await setup();
    ims.setFailure({ kind: 'hold' });
    const pending = provider.getToken();
    await ims.waitFor((f) => f.requests.length === 1);
    await provider.close();
    await expect(pending).rejects.toMatchObject({ code: 'IMS_CLOSED' });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'IMS_CLOSED' });
    await provider.close(); // twice is harmless
  });
});
