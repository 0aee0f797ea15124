import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { aepEnv, xdmMessageValidator } from '../helpers/aep-relay.js';
import { DUPLICATE_CAUSES, owedMessageKeys, trackDeliveries } from '../helpers/delivery-ledger.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeDcsFault, type FakeIms } from '../helpers/fake-adobe.js';
import { scrapedValue } from '../helpers/metric-values.js';
import { ensureBuilt, startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The reliability run docs/reliability.md quotes (issue 4): hundreds of unique events posted by concurrent
 * senders to the real relay process while the fake Adobe cycles through its faults and the process
 * is killed -9 and restarted on the same SQLite store. Then every id is counted.
 */
const EVENTS = 600;
const SENDERS = 12;
const SECRET = 'fault-injection-secret';
const ADMIN = 'fault-injection-admin-0123456789abcdef';
const REQUEST_TIMEOUT_MS = 500;

const dir = mkdtempSync(join(tmpdir(), 'relay-faults-'));
const dbPath = join(dir, 'relay.db');
const senderAgent = new Agent({ connections: SENDERS, keepAliveTimeout: 1_000 });
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;
let relay: RelayProcess | undefined;

afterAll(async () => {
  await relay?.kill('SIGKILL');
  await senderAgent.close();
  await dcs?.close();
  await ims?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault injection: kill -9, outages, 429s, 5xx, resets, timeouts, partial 207s, expiring tokens', () => {
  it('delivers every acknowledged event as valid XDM, dead-letters none, mints one token per process lifetime and per forced expiry', async () => {
    ensureBuilt(); // not part of the measured time
    const started = performance.now();
    ims = await startFakeIms();
    dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
    const fakeIms = ims;
    const fakeDcs = dcs;
    // Every message the fake accepts is accounted for: owed, and each extra copy explained.
    const ledger = trackDeliveries(fakeDcs);
    const inFlightAtKills: number[] = [];
    const env = aepEnv(fakeIms, fakeDcs, {
      CAPILLARY_AUTH_SECRETS: SECRET,
      ADMIN_TOKEN: ADMIN,
      STORE_URL: `sqlite:${dbPath}`,
      DELIVERY_RETRY_BASE_MS: '50',
      DELIVERY_RETRY_MAX_MS: '1000',
      DELIVERY_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      DELIVERY_LEASE_MS: '2000',
      CIRCUIT_OPEN_MS: '300',
      DELIVERY_LINGER_MS: '10',
      DELIVERY_POLL_INTERVAL_MS: '50',
      DELIVERY_BATCH_MAX_MESSAGES: '25',
      DELIVERY_CONCURRENCY: '4',
      SHUTDOWN_GRACE_MS: '2000',
    });

    // ------------------------------------------------------------ the relay, and who waits for it
    let lifetimes = 0;
    let kills = 0;
    let live = Promise.withResolvers<RelayProcess>();
    const start = async () => {
      relay = await startRelay(env);
      lifetimes += 1;
      live.resolve(relay);
    };
    const killAndRestart = async () => {
      // Senders failing from here on wait for the next process.
      live = Promise.withResolvers<RelayProcess>();
      await relay!.kill('SIGKILL');
      kills += 1;
      inFlightAtKills.push(ledger.recordKill(dbPath));
      await start();
    };
    await start();

    const scrape = async (name: string, labels: Record<string, string> = {}) => {
      const res = await request(`${relay!.opsUrl}/metrics`, { dispatcher: senderAgent });
      return scrapedValue(await res.body.text(), name, labels) ?? 0;
    };

    // ------------------------------------------------------------ senders (Capillary retries until it gets a 2xx)
    const names = Object.keys(SAMPLES);
    const acknowledged = new Set<string>();
    const ids = Array.from({ length: EVENTS }, (_, i) => `fi-${String(i).padStart(4, '0')}`);
    const bodyOf = (id: string, i: number) => JSON.stringify(sampleWithId(names[i % names.length]!, id));

    async function postUntilAcknowledged(id: string, body: string): Promise<void> {
      for (let tries = 1; ; tries += 1) {
        const target = await live.promise;
        let status = 0;
        try {
          const res = await request(`${target.url}/webhooks/capillary`, {
            method: 'POST',
            dispatcher: senderAgent,
            headers: { authorization: SECRET, 'content-type': 'application/json' },
            body,
          });
          status = res.statusCode;
          await res.body.text();
        } catch {
          status = 0; // connection refused or reset: the process was killed under us
        }
        if (status === 202) {
          acknowledged.add(id);
          return;
        }
        if (status !== 0 && status !== 503) throw new Error(`${id}: unexpected HTTP ${status}`);
        if (tries > 1_000) throw new Error(`${id}: never acknowledged`);
      }
    }

    /** Posts a slice of the ids with SENDERS concurrent senders; resolves when all are acknowledged. */
    let nextIndex = 0;
    async function postChunk(count: number, onProgress?: (done: number) => void): Promise<void> {
      const chunk = ids.slice(nextIndex, nextIndex + count).map((id, k) => [id, bodyOf(id, nextIndex + k)] as const);
      nextIndex += chunk.length;
      let cursor = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          while (cursor < chunk.length) {
            const [id, body] = chunk[cursor++]!;
            await postUntilAcknowledged(id, body);
            done += 1;
            onProgress?.(done);
          }
        }),
      );
    }

    // ------------------------------------------------------------ the fault cycle
    const faults: string[] = [];
    let forcedTokenRenewals = 0;
    const chunk = EVENTS / 12;
    const requestsSoFar = () => fakeDcs.requests.length;
    const status = (s: number) => fakeDcs.counters.byStatus[String(s)] ?? 0;
    /** Sets a fault for the next `times` requests, posts `events` events, waits until the fault was served. */
    async function withFault(label: string, fault: FakeDcsFault, times: number, events: number, served: () => boolean): Promise<void> {
      faults.push(label);
      fakeDcs.setFault(fault, { times });
      await postChunk(events);
      await waitFor(served, { timeoutMs: 30_000, what: `fault ${label} served ${times} times` });
    }

    // 1. Normal operation.
    await postChunk(chunk);
    await waitFor(() => status(207) > 0, { timeoutMs: 15_000, what: 'first delivery' });

    // 2. Outage (connection refused) until the circuit opens; kill -9 during it; restore.
    faults.push('outage');
    await fakeDcs.outage();
    await postChunk(chunk);
    await waitFor(async () => (await scrape('relay_aep_circuit_open')) === 1, { timeoutMs: 30_000, what: 'circuit open' });
    await killAndRestart();
    await waitFor(async () => (await scrape('relay_aep_requests_total', { status: 'network_error' })) > 0, { timeoutMs: 30_000, what: 'restarted relay meeting the outage' });
    await fakeDcs.restore();

    // 3-4. 429 with and without Retry-After.
    let before = status(429);
    await withFault('429 Retry-After: 1', { kind: 'status', status: 429, retryAfter: '1' }, 3, chunk, () => status(429) >= before + 3);
    before = status(429);
    await withFault('429', { kind: 'status', status: 429 }, 3, chunk, () => status(429) >= before + 3);

    // 5. 500, 502, 503, 504.
    for (const code of [500, 502, 503, 504]) {
      const had = status(code);
      await withFault(String(code), { kind: 'status', status: code }, 2, chunk / 4, () => status(code) >= had + 2);
    }

    // 6. Connection resets mid-request.
    before = fakeDcs.counters.resets;
    await withFault('connection reset', { kind: 'reset' }, 3, chunk, () => fakeDcs.counters.resets >= before + 3);

    // 7. Answers slower than DELIVERY_REQUEST_TIMEOUT_MS (Adobe still ingests them: duplicates are expected).
    const timeoutsBefore = await scrape('relay_delivery_retries_total', { reason: 'timeout' });
    const slowFrom = requestsSoFar();
    await withFault('slower than the timeout', { kind: 'slow', delayMs: REQUEST_TIMEOUT_MS + 300 }, 2, chunk, () => requestsSoFar() >= slowFrom + 2);
    await waitFor(async () => (await scrape('relay_delivery_retries_total', { reason: 'timeout' })) > timeoutsBefore, { timeoutMs: 30_000, what: 'a request timing out' });

    // 8. Partial 207s: every third message fails with 503.
    const partialFrom = requestsSoFar();
    await withFault('partial 207', { kind: 'partial', everyNth: 3 }, 4, chunk, () => requestsSoFar() >= partialFrom + 4);

    // 9-10. Tokens expiring early (403) and revoked (401): one fresh token each.
    for (const [label, force, code] of [
      ['token expired early', () => fakeIms.expireTokens(), 403],
      ['token revoked', () => fakeIms.revokeTokens(), 401],
    ] as const) {
      faults.push(label);
      const [mints, refused] = [fakeIms.mints, status(code)];
      force();
      forcedTokenRenewals += 1;
      await postChunk(chunk);
      await waitFor(() => fakeIms.mints > mints && status(code) > refused, { timeoutMs: 30_000, what: `${label}: refused and renewed` });
    }

    // 11. kill -9 while webhooks are arriving.
    faults.push('kill -9 while posting');
    let killing: Promise<void> | undefined;
    await postChunk(chunk, (done) => {
      if (done === chunk / 2) killing = killAndRestart();
    });
    await killing;

    // 12. kill -9 with a request in flight at Adobe (held, then answered to the dead process).
    faults.push('request in flight at the kill');
    fakeDcs.setFault({ kind: 'hold' }, { times: 1 });
    await postChunk(EVENTS - nextIndex);
    await waitFor(() => fakeDcs.requests.some((r) => r.outcome === 'held'), { timeoutMs: 15_000, what: 'a held request' });
    await killAndRestart();
    fakeDcs.release();
    fakeDcs.setFault(null);

    expect(acknowledged.size).toBe(EVENTS);

    // ------------------------------------------------------------ count
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const states = () => Object.fromEntries((db.prepare('SELECT state, count(*) AS n FROM messages GROUP BY state').all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
    try {
      const owed = owedMessageKeys(env, [...acknowledged].map((id) => JSON.parse(bodyOf(id, ids.indexOf(id))) as unknown));
      // Wait for the queue to empty, not for the messages: what is counted after is not assumed here.
      await waitFor(() => !states()['pending'] && !states()['in_flight'], {
        timeoutMs: 60_000,
        what: 'the queue empty',
      }).catch((error: unknown) => {
        const missing = [...owed.required].filter((key) => !fakeDcs.keyCounts.has(key));
        console.error(`missing ${missing.length}: ${missing.slice(0, 10).join(', ')}; store ${JSON.stringify(states())}\n${relay?.logs.slice(-20).join('\n')}`);
        throw error;
      });
      const finalStates = states();

      const dead = (await (await request(`${relay!.opsUrl}/admin/dead-letters`, { dispatcher: senderAgent, headers: { authorization: `Bearer ${ADMIN}` } })).body.json()) as { items: unknown[] };
      expect(dead.items).toEqual([]);
      expect(finalStates['dead'] ?? 0).toBe(0);

      // Every message Adobe took is valid XDM (the fake refused invalid ones; check again here).
      const invalid = fakeDcs.accepted.map((a) => xdmMessageValidator(a.message)).filter((why) => why !== null);
      expect(invalid).toEqual([]);
      expect(fakeDcs.counters.rejected).toBe(0);
      // Every owed message arrived, profile records included; nothing arrived that was not owed;
      // every extra copy is explained by a message in flight at a kill or an answer after the timeout.
      const account = ledger.account(owed);
      expect(account.lost).toEqual([]);
      expect(account.unexpected).toEqual([]);
      expect(account.unexplained).toEqual([]);
      for (const cause of DUPLICATE_CAUSES) expect(account.duplicates[cause]).toBeLessThanOrEqual(account.bounds[cause]);
      expect(account.owed).toBeGreaterThan(acknowledged.size); // profile records are owed too

      // One token per process lifetime, plus one per expiry or revocation forced on it.
      const mintBound = lifetimes + forcedTokenRenewals;
      expect(fakeIms.mints).toBeLessThanOrEqual(mintBound);

      const wallSeconds = (performance.now() - started) / 1000;
      const byStatus = Object.entries(fakeDcs.counters.byStatus).map(([s, n]) => `${s}:${n}`).join(' ');
      console.info(
        `fault injection: ${ledger.summary(account, acknowledged.size)}; 0 dead-lettered; ` +
          `${kills} kill -9 (in flight at each: ${inFlightAtKills.join(', ')}), ${faults.length} faults (${faults.join(', ')}); ` +
          `${fakeIms.mints} token mints (bound ${mintBound} = ${lifetimes} lifetimes + ${forcedTokenRenewals} forced); ` +
          `DCS requests ${fakeDcs.counters.requests} (${byStatus} reset:${fakeDcs.counters.resets}); ` +
          `messages ${JSON.stringify(finalStates)}; wall time ${wallSeconds.toFixed(1)} s`,
      );
    } finally {
      db.close();
    }
    await relay!.kill('SIGTERM');
  }, 180_000);
});
