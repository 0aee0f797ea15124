/**
 * A local stand-in for Adobe IMS (OAuth server-to-server tokens), behaving as the shared Adobe notes
 * describe: seconds on v3/v2, milliseconds on /ims/token and v1, JWT claims, x-debug-id, failures.
 */
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { ServerHarness, isTransportFault, readBody, sendJson, slotOf, takeFault, type FaultOptions, type FaultSlot } from './fake-server.js';
export type FakeImsFailure =
  /** 400 {"error":"invalid_client","error_description":"invalid client_secret parameter"} */
  | { kind: 'invalid_client' }
  /** 400 {"error":"invalid_scope"} */
  | { kind: 'invalid_scope' }
  /** Any status (500, 502, 503, 429...) with an IMS-style error body. */
  | { kind: 'status'; status: number }
  /** Read the request, then destroy the socket without answering. */
  | { kind: 'reset' }
  /** Answer normally after a delay. */
  | { kind: 'slow'; delayMs: number }
  /** Do not answer until `release()` (or close): lets a test observe an in-flight request. */
  | { kind: 'hold' };

export interface FakeImsOptions {
  clientId?: string;
  clientSecret?: string;
  /** Token lifetime; default 86_399_000 ms (IMS v3 says `expires_in: 86399`). */
  lifetimeMs?: number;
  /** Access tokens as (unsigned) JWTs carrying created_at / expires_in claims, like IMS. Default true. */
  jwt?: boolean;
  /** JWT claim types: IMS sends strings ("86400000"). Default 'string'. */
  claimTypes?: 'string' | 'number';
  /** Override the `expires_in` field (raw, may be nonsense or undefined) given the path asked. */
  expiresIn?: (path: string, lifetimeMs: number) => unknown;
  /** Override the JWT claims' lifetime (e.g. claims that disagree with expires_in). */
  jwtLifetimeMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface ImsRequestRecord {
  path: string;
  clientIdOk: boolean;
  clientSecretOk: boolean;
  grantType: string | null;
  scope: string | null;
  contentType: string | undefined;
  /** HTTP status answered, or 'reset' / 'held'. */
  outcome: number | 'reset' | 'held';
  debugId: string;
}

export interface FakeIms {
  readonly origin: string;
  readonly port: number;
  /** Token endpoints: v3 and v2 answer `expires_in` in seconds, v1 and unversioned in milliseconds. */
  readonly urls: { v3: string; v2: string; v1: string; unversioned: string };
  readonly clientId: string;
  readonly clientSecret: string;
  readonly events: EventEmitter;
  /** Successful token issuances. */
  readonly mints: number;
  readonly requests: ImsRequestRecord[];
  readonly issuedTokens: string[];
  setFailure(failure: FakeImsFailure | null, options?: FaultOptions): void;
  setLifetime(ms: number): void;
  /** 'valid' | 'expired' (issued here, past its life or expired by `expireTokens`) | 'unknown'. */
  tokenState(token: string | undefined): 'valid' | 'expired' | 'unknown';
  /** Every token issued so far is now expired (DCS answers 403). */
  expireTokens(): void;
  /** Every token issued so far is forgotten (DCS answers 401, as for a token from elsewhere). */
  revokeTokens(): void;
  /** Answer requests held by a 'hold' failure. */
  release(): void;
  waitFor(predicate: (ims: FakeIms) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const IMS_PATHS: Record<string, 'seconds' | 'milliseconds'> = {
  '/ims/token/v3': 'seconds',
  '/ims/token/v2': 'seconds',
  '/ims/token/v1': 'milliseconds',
  '/ims/token': 'milliseconds',
};

export async function startFakeIms(options: FakeImsOptions = {}): Promise<FakeIms> {
  const clientId = options.clientId ?? 'test-client-id';
  const clientSecret = options.clientSecret ?? 'test-client-secret-DO-NOT-LOG';
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  let lifetimeMs = options.lifetimeMs ?? 86_399_000;
  let failure: FaultSlot<FakeImsFailure> | undefined;
  let mints = 0;
  const requests: ImsRequestRecord[] = [];
  const issued = new Map<string, { expiresAt: number }>();
  const issuedTokens: string[] = [];

  function issue(path: string): Record<string, unknown> {
    const unit = IMS_PATHS[path] ?? 'seconds';
    const createdAt = now();
    const claimLife = options.jwtLifetimeMs ?? lifetimeMs;
    const claim = (n: number) => (options.claimTypes === 'number' ? n : String(n));
    const token =
      options.jwt === false
        ? `opaque-${randomBytes(24).toString('hex')}`
        : [
            Buffer.from(JSON.stringify({ alg: 'RS256', x5u: 'ims_na1-key-at-1.cer', kid: 'ims_na1-key-at-1', itt: 'at' })).toString('base64url'),
            Buffer.from(
              JSON.stringify({
                id: randomUUID(),
                type: 'access_token',
                client_id: clientId,
                as: 'ims-na1',
                created_at: claim(createdAt),
                expires_in: claim(claimLife),
                scope: 'openid,AdobeID',
              }),
            ).toString('base64url'),
            randomBytes(32).toString('base64url'),
          ].join('.');
    issued.set(token, { expiresAt: createdAt + lifetimeMs });
    issuedTokens.push(token);
    mints += 1;
    const expiresIn = options.expiresIn
      ? options.expiresIn(path, lifetimeMs)
      : unit === 'seconds'
        ? Math.max(1, Math.round(lifetimeMs / 1000))
        : lifetimeMs;
    const body: Record<string, unknown> = { access_token: token, token_type: 'bearer' };
    if (expiresIn !== undefined) body.expires_in = expiresIn;
    return body;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const debugId = randomUUID();
    res.setHeader('x-debug-id', debugId);
    const { text } = await readBody(req, 64 * 1024);
    const form = new URLSearchParams(text);
    const record: ImsRequestRecord = {
      path,
      clientIdOk: form.get('client_id') === clientId,
      clientSecretOk: form.get('client_secret') === clientSecret,
      grantType: form.get('grant_type'),
      scope: form.get('scope'),
      contentType: req.headers['content-type'],
      outcome: 0,
      debugId,
    };
    requests.push(record);
    const done = (outcome: ImsRequestRecord['outcome']) => {
      record.outcome = outcome;
      harness.changed('response', record);
    };

    if (req.method !== 'POST' || !(path in IMS_PATHS)) {
      sendJson(res, 404, { error: 'not_found' });
      return done(404);
    }
    const taken = takeFault(failure, random);
    if (taken.exhausted) failure = undefined;
    const answer = () => {
      if (!record.clientIdOk) {
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_id parameter' });
        return done(400);
      }
      if (!record.clientSecretOk) {
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_secret parameter' });
        return done(400);
      }
      if (record.grantType !== 'client_credentials') {
        sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'unsupported grant_type' });
        return done(400);
      }
      const body = issue(path);
      sendJson(res, 200, body);
      harness.changed('mint', { path });
      done(200);
    };
    const f = taken.fault;
    if (!f) return answer();
    if (isTransportFault(f)) return harness.playTransportFault(f, res, answer, done);
    switch (f.kind) {
      case 'invalid_client':
        sendJson(res, 400, { error: 'invalid_client', error_description: 'invalid client_secret parameter' });
        return done(400);
      case 'invalid_scope':
        sendJson(res, 400, { error: 'invalid_scope', error_description: 'invalid scope' });
        return done(400);
      case 'status':
        sendJson(res, f.status, { error: 'server_error', error_description: 'temporarily unavailable' });
        return done(f.status);
    }
  }

  const harness = new ServerHarness((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  await harness.listen();
  const origin = `http://127.0.0.1:${harness.port}`;

  const ims: FakeIms = {
    origin,
    port: harness.port,
    urls: {
      v3: `${origin}/ims/token/v3`,
      v2: `${origin}/ims/token/v2`,
      v1: `${origin}/ims/token/v1`,
      unversioned: `${origin}/ims/token`,
    },
    clientId,
    clientSecret,
    events: harness.events,
    get mints() {
      return mints;
    },
    requests,
    issuedTokens,
    setFailure(f, o = {}) {
      failure = slotOf(f, o);
    },
    setLifetime(ms) {
      lifetimeMs = ms;
    },
    tokenState(token) {
      const t = token === undefined ? undefined : issued.get(token);
      if (!t) return 'unknown';
      return now() < t.expiresAt ? 'valid' : 'expired';
    },
    expireTokens() {
      for (const t of issued.values()) t.expiresAt = Math.min(t.expiresAt, now() - 1);
    },
    revokeTokens() {
      issued.clear();
    },
    release() {
      harness.releaseAll();
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return harness.waitFor(() => predicate(ims), timeoutMs, 'IMS');
    },
    close: () => harness.close(),
  };
  return ims;
}

// ---------------------------------------------------------------- DCS
