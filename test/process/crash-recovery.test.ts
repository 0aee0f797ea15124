import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { aepEnv, xdmMessageValidator } from '../helpers/aep-relay.js';
import { owedMessageKeys, trackDeliveries } from '../helpers/delivery-ledger.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * kill -9 with a backlog and batches in flight, checked through the AEP path against the counting
 * fake DCS (not the dry-run sink, which skips bodies it already wrote and so cannot see a re-send).
 */
const SECRET = 'crash-test-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
const dbPath = join(dir, 'relay.db');
const settings = {
  CAPILLARY_AUTH_SECRETS: SECRET,
  STORE_URL: `sqlite:${dbPath}`,
  DELIVERY_LINGER_MS: '0',
  // Deliver slowly (about 100 messages/s) so a backlog, and batches in flight, exist at the kill;
  // a short lease so in-flight messages of the killed process are due again soon after restart.
  DELIVERY_CONCURRENCY: '1',
  DELIVERY_BATCH_MAX_MESSAGES: '5',
  AEP_MAX_REQUESTS_PER_SECOND: '20',
  DELIVERY_REQUEST_TIMEOUT_MS: '1000',
  DELIVERY_LEASE_MS: '2000',
};
let relay: RelayProcess | undefined;
let ims: FakeIms | undefined;
let dcs: FakeDcs | undefined;
afterAll(async () => {
  await relay?.kill('SIGKILL');
  await dcs?.close();
  await ims?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function postEvent(url: string, eventId: string): Promise<{ eventId: string; status: number; body?: { status: string } }> {
  try {
    const res = await request(`${url}/webhooks/capillary`, {
      method: 'POST',
      headers: { authorization: SECRET, 'content-type': 'application/json' },
      body: JSON.stringify(sampleWithId('points-issued', eventId)),
    });
    const text = await res.body.text();
    return { eventId, status: res.statusCode, ...(res.statusCode === 202 ? { body: JSON.parse(text) as { status: string } } : {}) };
  } catch {
    return { eventId, status: 0 }; // connection reset by the kill: not acknowledged
  }
}

function queueStates(): Record<string, number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT state, count(*) AS n FROM messages GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  } finally {
    db.close();
  }
}

describe('kill -9 while webhooks are arriving', () => {
  it('delivers every message of every acknowledged event after restart, re-sends only what was in flight at the kill, and answers duplicate for it', async () => {
    ims = await startFakeIms();
    dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
    const fakeDcs = dcs;
    const ledger = trackDeliveries(fakeDcs);
    const env = aepEnv(ims, fakeDcs, settings);
    relay = await startRelay(env);
    const ids = Array.from({ length: 600 }, (_, i) => `crash-${i}`);
    const acknowledged: string[] = [];
    const unanswered: string[] = [];
    let next = 0;
    let killed = false;
    // 16 concurrent senders; kill -9 the relay once a third of the events are acknowledged.
    const sender = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const postedBeforeKill = !killed;
        const result = await postEvent(relay!.url, id);
        if (result.status === 202) acknowledged.push(id);
        // Cut off by the kill: it may have been committed. Posts after it were refused outright.
        else if (result.status === 0 && postedBeforeKill) unanswered.push(id);
        if (!killed && acknowledged.length >= 200) {
          killed = true;
          await relay!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    expect(killed).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);
    const deliveredBeforeKill = fakeDcs.accepted.length;
    const inFlightAtKill = ledger.recordKill(dbPath);

    relay = await startRelay(env);
    await waitFor(() => {
      const states = queueStates();
      return !states['pending'] && !states['in_flight'];
    }, { timeoutMs: 30_000, what: 'the queue drained after restart' });

    const bodyOf = (id: string) => sampleWithId('points-issued', id);
    const owed = owedMessageKeys(env, acknowledged.map(bodyOf), unanswered.map(bodyOf));
    const account = ledger.account(owed);
    expect(account.lost).toEqual([]);
    expect(account.unexpected).toEqual([]);
    expect(account.unexplained).toEqual([]);
    expect(account.duplicates['in flight at a kill -9']).toBeLessThanOrEqual(inFlightAtKill);
    expect(account.owed).toBe(acknowledged.length * 2); // points-issued carries the member's state: a profile record each
    expect(fakeDcs.counters.rejected).toBe(0);
    console.info(`crash test: ${ledger.summary(account, acknowledged.length)}; ${deliveredBeforeKill} accepted before the kill, ${inFlightAtKill} in flight at it`);

    const redelivered = await Promise.all(acknowledged.map((id) => postEvent(relay!.url, id)));
    expect(redelivered.filter((r) => r.status !== 202 || r.body?.status !== 'duplicate')).toEqual([]);
    await relay.kill('SIGTERM');
  }, 90_000);
});
