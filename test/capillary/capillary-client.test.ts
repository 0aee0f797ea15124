import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createDispatcher } from '../../src/adobe/dispatcher.js';
import { readDeliveryCounts, readDeliveryLog } from '../../src/capillary/capillary-answers.js';
import { CapillaryApiError, createCapillaryClient, type CapillaryClient } from '../../src/capillary/capillary-client.js';
import { readTokenAnswer } from '../../src/capillary/capillary-token.js';
import { captureLogger } from '../helpers/build-app.js';
import { startFakeCapillary, type FakeCapillary } from '../helpers/fake-capillary.js';

const T0 = Date.UTC(2026, 0, 5);
const HOUR = 3_600_000;
let capillary: FakeCapillary;
let dispatcher: Agent;
let logs: ReturnType<typeof captureLogger>;
let clock: number;

beforeEach(async () => {
  capillary = await startFakeCapillary();
  dispatcher = createDispatcher();
  logs = captureLogger();
  clock = T0;
});

afterEach(async () => {
  // Neither the secret nor a token ever reaches a log line.
  const all = logs.lines.join('\n');
  expect(all).not.toContain(capillary.secret);
  for (const t of capillary.issuedTokens) expect(all).not.toContain(t);
  await dispatcher.close();
  await capillary.close();
});

function client(overrides: { secret?: string; tokenHeader?: string } = {}): CapillaryClient {
  return createCapillaryClient({
    config: { url: `${capillary.origin}/`, key: capillary.key, secret: overrides.secret ?? capillary.secret, tokenHeader: overrides.tokenHeader ?? 'X-CAP-API-OAUTH-TOKEN', consumerGroupId: capillary.consumerGroupId },
    dispatcher,
    timeoutMs: 2_000,
    logger: logs.logger,
    now: () => clock,
  });
}

async function failure(p: Promise<unknown>): Promise<CapillaryApiError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CapillaryApiError);
  const e = error as CapillaryApiError;
  expect(`${e.message} ${JSON.stringify(e.context)}`).not.toContain(capillary.secret);
  return e;
}

const deliveries = (status: 'DELIVERED' | 'FAILED' | 'RETRYING', n: number, at = T0) =>
  Array.from({ length: n }, (_, i) => ({ eventId: `${status.toLowerCase()}-${i}`, eventName: 'pointsIssued', status, eventTime: at + i }));

describe('Capillary API client', () => {
  it('reads the delivery counts of the consumer group for a range, with one cached token in the configured header', async () => {
    capillary.deliveries.push(...deliveries('DELIVERED', 5), ...deliveries('FAILED', 2), ...deliveries('RETRYING', 1), ...deliveries('DELIVERED', 3, T0 + HOUR));
    const c = client();
    expect(await c.deliveryCounts({ from: T0, to: T0 + HOUR })).toEqual({ total: 8, delivered: 5, failed: 2, retrying: 1, pending: 0 });
    expect(await c.deliveryCounts({ from: T0 + HOUR, to: T0 + 2 * HOUR })).toEqual({ total: 3, delivered: 3, failed: 0, retrying: 0, pending: 0 });
    expect(capillary.mints).toBe(1);
    const metrics = capillary.requests.filter((r) => r.path.endsWith('/metrics'));
    expect(metrics[0]).toMatchObject({ path: `/v3/events/consumer-groups/${capillary.consumerGroupId}/metrics`, query: { startDate: String(T0), endDate: String(T0 + HOUR) }, token: capillary.issuedTokens[0] });
  });

  it('asks for a token once however many calls wait for it (single flight)', async () => {
    const c = client();
    await Promise.all(Array.from({ length: 5 }, () => c.deliveryCounts({ from: T0, to: T0 + HOUR })));
    expect(capillary.mints).toBe(1);
  });

  it('replaces the token a fifth of its life (at most a minute) before ttlSeconds runs out', async () => {
    capillary.setTtlSeconds(100);
    const c = client();
    await c.deliveryCounts({ from: T0, to: T0 + HOUR });
    clock = T0 + 79_000;
    await c.deliveryCounts({ from: T0, to: T0 + HOUR });
    expect(capillary.mints).toBe(1);
    clock = T0 + 80_000;
    await c.deliveryCounts({ from: T0, to: T0 + HOUR });
    expect(capillary.mints).toBe(2);
  });

  it('a token refused mid-run (401): drops it, takes a fresh one, retries once', async () => {
    const c = client();
    await c.deliveryCounts({ from: T0, to: T0 + HOUR });
    capillary.expireTokens();
    expect((await c.deliveryCounts({ from: T0, to: T0 + HOUR })).total).toBe(0);
    expect(capillary.mints).toBe(2);
    expect(capillary.requests.map((r) => r.outcome)).toEqual([200, 200, 401, 200, 200]);
  });

  it('403: CAPILLARY_FORBIDDEN with the status, not retried', async () => {
    capillary.setFault('/metrics', { kind: 'status', status: 403, body: { errors: [{ code: 403, message: 'No read permission on resource group' }] } });
    const e = await failure(client().deliveryCounts({ from: T0, to: T0 + HOUR }));
    expect(e).toMatchObject({ code: 'CAPILLARY_FORBIDDEN', status: 403 });
    expect(e.message).toContain('No read permission');
    expect(capillary.requests.filter((r) => r.path.endsWith('/metrics'))).toHaveLength(1);
  });

  it('a wrong secret: CAPILLARY_AUTH_REFUSED, and the secret appears nowhere', async () => {
    const e = await failure(client({ secret: 'not-the-secret' }).deliveryCounts({ from: T0, to: T0 + HOUR }));
    expect(e).toMatchObject({ code: 'CAPILLARY_AUTH_REFUSED', status: 401 });
  });

  it('an unknown consumer group is CAPILLARY_NOT_FOUND; a 503 and an outage CAPILLARY_UNAVAILABLE', async () => {
    const other = createCapillaryClient({ config: { url: capillary.origin, key: capillary.key, secret: capillary.secret, tokenHeader: 'X-CAP-API-OAUTH-TOKEN', consumerGroupId: 'nope' }, dispatcher, timeoutMs: 2_000, logger: logs.logger });
    expect((await failure(other.deliveryCounts({ from: T0, to: T0 + 1 }))).code).toBe('CAPILLARY_NOT_FOUND');
    capillary.setFault('/metrics', { kind: 'status', status: 503 }, { times: 1 });
    expect((await failure(client().deliveryCounts({ from: T0, to: T0 + 1 }))).code).toBe('CAPILLARY_UNAVAILABLE');
    capillary.setFault('/metrics', { kind: 'reset' }, { times: 1 });
    expect((await failure(client().deliveryCounts({ from: T0, to: T0 + 1 }))).code).toBe('CAPILLARY_UNAVAILABLE');
  });

  it('lists the events Capillary gave up on from its delivery log, page by page, up to a limit', async () => {
    capillary.deliveries.push(...deliveries('FAILED', 230), ...deliveries('DELIVERED', 50));
    const all = await client().failedEvents({ from: T0, to: T0 + HOUR }, 1000);
    expect(all.truncated).toBe(false);
    expect(all.entries).toHaveLength(230);
    expect(all.entries[0]).toEqual({ eventId: 'failed-0', eventName: 'pointsIssued', status: 'FAILED', at: T0, requestId: 'req-failed-0', httpStatus: 400, error: null });
    expect(capillary.requests.filter((r) => r.path.endsWith('/logs')).map((r) => r.query.page)).toEqual(['0', '1', '2']);
    const some = await client().failedEvents({ from: T0, to: T0 + HOUR }, 100);
    expect(some).toMatchObject({ truncated: true });
    expect(some.entries).toHaveLength(100);
  });

  it('sends the token as a Bearer when the configured header is Authorization', async () => {
    const bearer = await startFakeCapillary({ tokenHeader: 'authorization' });
    try {
      const c = createCapillaryClient({ config: { url: bearer.origin, key: bearer.key, secret: bearer.secret, tokenHeader: 'Authorization', consumerGroupId: bearer.consumerGroupId }, dispatcher, timeoutMs: 2_000, logger: logs.logger });
      expect((await c.deliveryCounts({ from: T0, to: T0 + 1 })).total).toBe(0);
      expect(bearer.requests.at(-1)).toMatchObject({ token: bearer.issuedTokens[0], outcome: 200 });
    } finally {
      await bearer.close();
    }
  });
});

describe("reading Capillary's answers tolerantly", () => {
  it('the token, wherever it is, with the documented default lifetime when none is given', () => {
    expect(readTokenAnswer({ data: { accessToken: 'a', ttlSeconds: 300 } })).toEqual({ token: 'a', ttlSeconds: 300 });
    expect(readTokenAnswer({ access_token: 'b', expires_in: '3600' })).toEqual({ token: 'b', ttlSeconds: 3600 });
    expect(readTokenAnswer({ data: { accessToken: 'c' } })).toEqual({ token: 'c', ttlSeconds: 300 });
    expect(readTokenAnswer({ data: {} })).toBeUndefined();
  });

  it('counts as numbers or strings, at data or the top, missing ones null', () => {
    expect(readDeliveryCounts({ data: { totalEvents: 10, deliveredEvents: '8', failedEvents: 2 } })).toEqual({ total: 10, delivered: 8, failed: 2, retrying: null, pending: null });
    expect(readDeliveryCounts({ data: [{ total: 1, failed: 0 }] })).toMatchObject({ total: 1, failed: 0 });
    expect(readDeliveryCounts({ data: { something: 'else' } })).toBeUndefined();
  });

  it('log entries under several list names, with eventType prefixes, ISO and second times, any case of status', () => {
    const entries = readDeliveryLog({
      data: {
        content: [
          { id: 'e1', eventType: '100737_pointsIssued', deliveryStatus: 'failed', createdOn: '2026-01-05T00:00:01Z', requestId: 'r1', responseCode: '400', errorMessage: 'Bad Request' },
          { eventId: 'e2', eventName: 'tierUpgraded', status: 'DELIVERED', timestamp: 1_767_571_200 },
        ],
      },
    });
    expect(entries).toEqual([
      { eventId: 'e1', eventName: 'pointsIssued', status: 'FAILED', at: Date.UTC(2026, 0, 5, 0, 0, 1), requestId: 'r1', httpStatus: 400, error: 'Bad Request' },
      { eventId: 'e2', eventName: 'tierUpgraded', status: 'DELIVERED', at: 1_767_571_200_000, requestId: null, httpStatus: null, error: null },
    ]);
    expect(readDeliveryLog([{ eventId: 'x' }])).toHaveLength(1);
    expect(readDeliveryLog({ data: { total: 3 } })).toBeUndefined();
  });
});
