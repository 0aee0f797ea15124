import pg from 'pg';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aepEnv, QUICK_DELIVERY_ENV, xdmMessageValidator } from '../helpers/aep-relay.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { ensureBuilt, startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 5: two real relay processes on one PostgreSQL database, both delivering to one fake DCS.
 * Events are spread over both, each acknowledged event is redelivered to the other replica (which
 * must answer "duplicate"), and one replica is killed -9 mid-stream and restarted. Then every
 * ExperienceEvent `_id` the fake DCS took is counted.
 */
const EVENTS = 600;
const SENDERS = 8;
/** Every REDELIVER_EVERY-th acknowledged event is posted again, to the other replica. */
const REDELIVER_EVERY = 3;
const SECRET = 'replicas-secret-0123456789';
const ADMIN = 'replicas-admin-token-0123456789abcdef';
const BATCH_MAX_MESSAGES = 10;
const CONCURRENCY = 2;
/** The most messages one replica can have in flight: all a kill -9 can leave to a lease expiry. */
const IN_FLIGHT_PER_REPLICA = BATCH_MAX_MESSAGES * CONCURRENCY;

const senderAgent = new Agent({ connections: SENDERS * 2, keepAliveTimeout: 1_000 });
let ims: FakeIms;
let dcs: FakeDcs;
let dbUrl: string;
let env: Record<string, string>;

/** A replica slot behind the (imaginary) load balancer: the process now serving it, if any. */
interface Slot {
  name: string;
  relay: RelayProcess | undefined;
  /** Resolves with the next live process (for redeliveries that must reach this very replica). */
  live: Promise<RelayProcess>;
  resolveLive: (relay: RelayProcess) => void;
}
const slots: Slot[] = [];

function newSlot(name: string): Slot {
  const slot = { name, relay: undefined } as Slot;
  slot.live = new Promise((resolve) => (slot.resolveLive = resolve));
  return slot;
}

async function startSlot(slot: Slot): Promise<void> {
  const relay = await startRelay(env);
  slot.relay = relay;
  slot.resolveLive(relay);
}

async function killAndRestart(slot: Slot): Promise<void> {
  slot.live = new Promise((resolve) => (slot.resolveLive = resolve));
  const relay = slot.relay!;
  slot.relay = undefined;
  await relay.kill('SIGKILL');
  await startSlot(slot);
}

type Posted = { status: number; outcome?: string };

async function post(relay: RelayProcess, body: string): Promise<Posted> {
  try {
    const res = await request(`${relay.url}/webhooks/capillary`, {
      method: 'POST',
      dispatcher: senderAgent,
      headers: { authorization: SECRET, 'content-type': 'application/json' },
      body,
    });
    const text = await res.body.text();
    return { status: res.statusCode, ...(res.statusCode === 202 ? { outcome: (JSON.parse(text) as { status: string }).status } : {}) };
  } catch {
    return { status: 0 }; // refused or reset: the replica was killed under us
  }
}

async function adminEvent(relay: RelayProcess, eventId: string) {
  const res = await request(`${relay.opsUrl}/admin/events/${encodeURIComponent(eventId)}`, { dispatcher: senderAgent, headers: { authorization: `Bearer ${ADMIN}` } });
  if (res.statusCode !== 200) throw new Error(`GET /admin/events/${eventId}: HTTP ${res.statusCode} ${await res.body.text()}`);
  return (await res.body.json()) as { messages: Array<{ kind: string; state: string; deadReason: string | null }> };
}

async function messageStates(): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM messages GROUP BY state');
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  ensureBuilt();
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
  dbUrl = await createTestDatabase();
  env = aepEnv(ims, dcs, {
    CAPILLARY_AUTH_SECRETS: SECRET,
    ADMIN_TOKEN: ADMIN,
    STORE_URL: dbUrl,
    ...QUICK_DELIVERY_ENV,
    DELIVERY_BATCH_MAX_MESSAGES: String(BATCH_MAX_MESSAGES),
    DELIVERY_CONCURRENCY: String(CONCURRENCY),
    // Short, so the killed replica's leases run out within the test; the worker aborts a send
    // shortly before its lease ends, so no live replica's lease ever expires under a request.
    DELIVERY_LEASE_MS: '2000',
    CIRCUIT_OPEN_MS: '300',
    SHUTDOWN_GRACE_MS: '2000',
  });
  slots.push(newSlot('A'), newSlot('B'));
  // Both start at once: the schema migration must be safe under a concurrent start (advisory lock).
  await Promise.all(slots.map(startSlot));
});

afterAll(async () => {
  await Promise.all(slots.map((s) => s.relay?.kill('SIGTERM')));
  await senderAgent.close();
  await dcs?.close();
  await ims?.close();
});

describe('two relay replicas on one PostgreSQL store', () => {
  it('delivers every acknowledged event, answers duplicate on the other replica, and survives a kill -9 of one replica', async () => {
    // A slow inlet (100 ms a request) keeps a backlog and batches in flight on both replicas at the kill.
    dcs.setFault({ kind: 'slow', delayMs: 100 });
    const names = Object.keys(SAMPLES);
    const ids = Array.from({ length: EVENTS }, (_, i) => `rep-${String(i).padStart(4, '0')}`);
    const bodyOf = (i: number) => JSON.stringify(sampleWithId(names[i % names.length]!, ids[i]!));
    const acknowledged = new Set<string>();
    const ackedBy = [0, 0];
    const redeliveries: Array<{ id: string; to: string; outcome: string | undefined }> = [];
    const unexpected: string[] = [];
    // Processes that have delivered so far: each process mints its own IMS token.
    const deliveringProcesses = () => new Set(dcs.requests.filter((r) => r.outcome === 207).map((r) => r.token)).size;
    let restart: Promise<void> | undefined;

    /** Posts to the preferred replica; while it is down (or being killed), to the other one. */
    const postUntilAcknowledged = async (i: number): Promise<number> => {
      for (let tries = 0; tries < 500; tries += 1) {
        const preferred = (i + tries) % 2;
        const index = slots[preferred]!.relay ? preferred : 1 - preferred;
        const relay = slots[index]!.relay;
        if (!relay) {
          await Promise.race(slots.map((s) => s.live));
          continue;
        }
        const result = await post(relay, bodyOf(i));
        if (result.status === 202) return index;
        if (result.status !== 0 && result.status !== 503) unexpected.push(`${ids[i]}: HTTP ${result.status}`);
      }
      throw new Error(`${ids[i]}: never acknowledged`);
    };

    /** The same event to the other replica, waiting for it if it is down: must be a duplicate. */
    const redeliver = async (i: number, other: number): Promise<void> => {
      for (let tries = 0; tries < 500; tries += 1) {
        const relay = slots[other]!.relay ?? (await slots[other]!.live);
        const result = await post(relay, bodyOf(i));
        if (result.status === 202) {
          redeliveries.push({ id: ids[i]!, to: slots[other]!.name, outcome: result.outcome });
          return;
        }
        if (result.status !== 0 && result.status !== 503) unexpected.push(`redelivery of ${ids[i]}: HTTP ${result.status}`);
      }
      throw new Error(`redelivery of ${ids[i]}: never answered`);
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (next < ids.length) {
          const i = next++;
          const by = await postUntilAcknowledged(i);
          acknowledged.add(ids[i]!);
          ackedBy[by]! += 1;
          if (i % REDELIVER_EVERY === 0) await redeliver(i, 1 - by);
          // Kill B a third of the way in, once both replicas are delivering.
          if (!restart && acknowledged.size >= EVENTS / 3 && deliveringProcesses() >= 2) restart = killAndRestart(slots[1]!);
        }
      }),
    );
    await restart;
    expect(unexpected).toEqual([]);
    expect(acknowledged.size).toBe(EVENTS);
    expect(restart).toBeDefined();
    expect(redeliveries.length).toBe(Math.ceil(EVENTS / REDELIVER_EVERY));
    expect(redeliveries.filter((r) => r.outcome !== 'duplicate')).toEqual([]);

    dcs.setFault(null);
    await dcs
      .waitFor((d) => [...acknowledged].every((id) => d.idCounts.has(id)), 30_000)
      .catch((error: unknown) => {
        const missing = [...acknowledged].filter((id) => !dcs.idCounts.has(id));
        console.error(`missing ${missing.length} of ${acknowledged.size}: ${missing.slice(0, 5).join(', ')}`);
        throw error;
      });
    // The queue is empty: every message delivered (or skipped as superseded), none dead or stuck.
    const states = await waitFor(async () => {
      const s = await messageStates();
      return (s['pending'] ?? 0) + (s['in_flight'] ?? 0) === 0 ? s : undefined;
    }, { timeoutMs: 10_000, what: 'an empty queue' });
    expect(states['dead'] ?? 0).toBe(0);

    const eventIds = new Set(ids);
    const counts = [...dcs.idCounts].filter(([id]) => eventIds.has(id));
    const twice = counts.filter(([, n]) => n === 2).map(([id]) => id);
    const more = counts.filter(([, n]) => n > 2);
    expect(counts.length).toBe(EVENTS);
    expect(more).toEqual([]);
    // Only the killed replica's in-flight batches can be sent again (after their lease ran out).
    expect(twice.length).toBeLessThanOrEqual(IN_FLIGHT_PER_REPLICA);
    console.info(
      `replicas test: ${acknowledged.size} acknowledged (A ${ackedBy[0]}, B ${ackedBy[1]}), ${redeliveries.length} redelivered to the other replica (all duplicate), ` +
        `${counts.length} delivered, 0 lost, ${twice.length} delivered twice (bound ${IN_FLIGHT_PER_REPLICA}: in flight at the kill), ` +
        `${dcs.counters.requests} DCS requests, message states ${JSON.stringify(states)}`,
    );
  }, 60_000);

  it('shares the profile watermark: an older profile record sent to the other replica after a newer one is skipped', async () => {
    const [a, b] = [slots[0]!.relay!, slots[1]!.relay!];
    const member = (eventId: string, createdAt: number) => {
      const event = sampleWithId('tier-upgraded', eventId);
      const data = structuredClone(event['data']) as { customerIdentifiers: { customerId: number } };
      data.customerIdentifiers.customerId = 777_000_111;
      return JSON.stringify({ ...event, createdAt, data });
    };
    const createdAt = Date.UTC(2026, 0, 15, 12);
    expect(await post(a, member('wm-newer', createdAt + 60_000))).toEqual({ status: 202, outcome: 'accepted' });
    expect(await post(b, member('wm-older', createdAt))).toEqual({ status: 202, outcome: 'accepted' });

    // Either replica answers for the shared store.
    const older = await adminEvent(a, 'wm-older');
    const olderProfile = older.messages.find((m) => m.kind === 'profile');
    expect(olderProfile).toMatchObject({ state: 'skipped', deadReason: 'superseded_by_newer_profile' });
    await waitFor(async () => {
      const newer = await adminEvent(b, 'wm-newer');
      const olderNow = await adminEvent(b, 'wm-older');
      return [...newer.messages, ...olderNow.messages.filter((m) => m.kind === 'event')].every((m) => m.state === 'delivered');
    }, { timeoutMs: 10_000, what: 'the newer profile record and both events delivered' });
    expect(dcs.idCounts.get('wm-older')).toBe(1);
    expect(dcs.idCounts.get('wm-newer')).toBe(1);
  });
});
