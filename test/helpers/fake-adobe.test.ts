import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from './fake-adobe.js';

let dispatcher: Agent;
const closers: Array<{ close(): Promise<void> }> = [];

beforeEach(() => {
  dispatcher = createDispatcher();
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await dispatcher.close();
});

async function ims(options: Parameters<typeof startFakeIms>[0] = {}): Promise<FakeIms> {
  const f = await startFakeIms(options);
  closers.push(f);
  return f;
}
async function dcs(options: Parameters<typeof startFakeDcs>[0] = {}): Promise<FakeDcs> {
  const f = await startFakeDcs(options);
  closers.push(f);
  return f;
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body, headers, dispatcher });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

function form(f: FakeIms, overrides: Record<string, string> = {}): string {
  return new URLSearchParams({ grant_type: 'client_credentials', client_id: f.clientId, client_secret: f.clientSecret, scope: 'openid', ...overrides }).toString();
}

const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
const msg = (id?: string) => ({ header: { datasetId: 'd' }, body: { xdmMeta: {}, xdmEntity: id === undefined ? { timestamp: '2026-01-01T00:00:00Z' } : { _id: id, timestamp: '2026-01-01T00:00:00Z' } } });

describe('fake IMS', () => {
  it('answers expires_in in seconds on v3/v2 and milliseconds on v1/unversioned, with JWT claims in ms', async () => {
    const f = await ims({ lifetimeMs: 86_399_994, now: () => 1_000 });
    const v3 = await post(f.urls.v3, form(f));
    expect(v3.json).toMatchObject({ token_type: 'bearer', expires_in: 86_400 });
    expect(claims(v3.json!.access_token as string)).toMatchObject({ created_at: '1000', expires_in: '86399994' });
    expect((await post(f.urls.v2, form(f))).json?.expires_in).toBe(86_400);
    expect((await post(f.urls.v1, form(f))).json?.expires_in).toBe(86_399_994);
    expect((await post(f.urls.unversioned, form(f))).json?.expires_in).toBe(86_399_994);
    expect(f.mints).toBe(4);
    expect(v3.headers['x-debug-id']).toEqual(expect.any(String));
  });

  it('checks the form: wrong secret is invalid_client and recorded as such', async () => {
    const f = await ims();
    const res = await post(f.urls.v3, form(f, { client_secret: 'nope' }));
    expect(res).toMatchObject({ status: 400, json: { error: 'invalid_client', error_description: 'invalid client_secret parameter' } });
    expect(f.requests[0]).toMatchObject({ clientIdOk: true, clientSecretOk: false, outcome: 400, debugId: res.headers['x-debug-id'] });
    expect(f.mints).toBe(0);
  });

  it('tracks token validity for the DCS fake', async () => {
    let clock = 0;
    const f = await ims({ lifetimeMs: 1_000, now: () => clock });
    const token = (await post(f.urls.v3, form(f))).json!.access_token as string;
    expect(f.tokenState(token)).toBe('valid');
    clock = 1_000;
    expect(f.tokenState(token)).toBe('expired');
    expect(f.tokenState('made-up')).toBe('unknown');
    f.revokeTokens();
    expect(f.tokenState(token)).toBe('unknown');
  });

  it('fails on demand for N requests, then recovers', async () => {
    const f = await ims();
    f.setFailure({ kind: 'status', status: 503 }, { times: 2 });
    expect((await post(f.urls.v3, form(f))).status).toBe(503);
    expect((await post(f.urls.v3, form(f))).status).toBe(503);
    expect((await post(f.urls.v3, form(f))).status).toBe(200);
  });
});

describe('fake DCS', () => {
  it('batch: 207 with an entry per message; invalid ones get statusCode 400', async () => {
    const f = await dcs();
    const res = await post(f.batchUrl(), JSON.stringify({ messages: [msg('a'), msg(), msg('b')] }), { 'content-type': 'application/json' });
    expect(res.status).toBe(207);
    const responses = res.json!.responses as Array<Record<string, unknown>>;
    expect(responses[0]).toEqual({ xactionId: expect.any(String) });
    expect(responses[1]).toMatchObject({ statusCode: 400, message: expect.stringContaining('_id') });
    expect(f.accepted.map((a) => a.id)).toEqual(['a', 'b']);
    expect(f.counters).toMatchObject({ requests: 1, accepted: 2, rejected: 1, byStatus: { '207': 1 } });
  });

  it('single endpoint: 200 with xactionId, or 400 problem+json', async () => {
    const f = await dcs();
    const ok = await post(f.inletUrl(), JSON.stringify(msg('x')), { 'content-type': 'application/json' });
    expect(ok).toMatchObject({ status: 200, json: { inletId: 'test-inlet', xactionId: expect.any(String), syncValidation: { skipped: true } } });
    const bad = await post(f.inletUrl(), JSON.stringify(msg()), { 'content-type': 'application/json' });
    expect(bad).toMatchObject({ status: 400, json: { status: 400, title: 'Invalid XDM message' } });
  });

  it('requires a valid token from the linked IMS: 401 with a string status, 403 when expired', async () => {
    const i = await ims();
    const f = await dcs({ ims: i });
    const body = JSON.stringify({ messages: [msg('a')] });
    const none = await post(f.batchUrl(), body, { 'content-type': 'application/json' });
    expect(none).toMatchObject({ status: 401, json: { status: '401' } });
    const token = (await post(i.urls.v3, form(i))).json!.access_token as string;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    expect((await post(f.batchUrl(), body, headers)).status).toBe(207);
    i.expireTokens();
    expect((await post(f.batchUrl(), body, headers)).status).toBe(403);
    expect(f.counters.authFailures).toBe(2);
  });

  it('413 above maxBodyBytes; 415 without a JSON content type', async () => {
    const f = await dcs({ maxBodyBytes: 100 });
    expect((await post(f.batchUrl(), JSON.stringify({ messages: [msg('x'.repeat(200))] }), { 'content-type': 'application/json' })).status).toBe(413);
    expect((await post(f.batchUrl(), JSON.stringify({ messages: [] }), { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('counts duplicate ids', async () => {
    const f = await dcs({ recordMessages: false });
    for (let n = 0; n < 2; n++) await post(f.batchUrl(), JSON.stringify({ messages: [msg('dup'), msg(`u${n}`)] }), { 'content-type': 'application/json' });
    expect(f.idCounts.get('dup')).toBe(2);
    expect(f.accepted[0]).not.toHaveProperty('message');
  });

  it('outage refuses connections; restore listens again on the same port', async () => {
    const f = await dcs();
    const body = JSON.stringify({ messages: [msg('a')] });
    await f.outage();
    await expect(post(f.batchUrl(), body, { 'content-type': 'application/json' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await f.restore();
    expect((await post(f.batchUrl(), body, { 'content-type': 'application/json' })).status).toBe(207);
  });

  it('hold keeps a request open until release; waitFor wakes on the event', async () => {
    const f = await dcs();
    f.setFault({ kind: 'hold' }, { times: 1 });
    const pending = post(f.batchUrl(), JSON.stringify({ messages: [msg('a')] }), { 'content-type': 'application/json' });
    await f.waitFor((d) => d.requests[0]?.outcome === 'held');
    expect(f.accepted).toHaveLength(0);
    f.release();
    expect((await pending).status).toBe(207);
    expect(f.requests[0]!.outcome).toBe(207);
  });

  it('status faults carry Retry-After when asked', async () => {
    const f = await dcs();
    f.setFault({ kind: 'status', status: 429, retryAfter: '3' }, { times: 1 });
    const res = await post(f.batchUrl(), JSON.stringify({ messages: [msg('a')] }), { 'content-type': 'application/json' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
  });
});
