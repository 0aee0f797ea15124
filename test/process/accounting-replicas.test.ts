import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccountingRunResult } from '../../src/http/accounting-schemas.js';
import { startAccountingWorld, type AccountingWorld } from '../helpers/accounting-world.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 17: two relay replicas on one PostgreSQL store, each asked to run accounting at the same
 * time. The store's advisory lock lets one run at a time: the second waits for the first to finish,
 * then runs; their reads of Capillary never interleave (each replica has its own Capillary token, so
 * the fake can tell whose a request is).
 */
const SECRET = 'accounting-replicas-secret-0123';
const ADMIN = 'accounting-replicas-admin-token-0123456789';
let world: AccountingWorld | undefined;
const relays: RelayProcess[] = [];

afterAll(async () => {
  await Promise.all(relays.map((r) => r.kill('SIGTERM')));
  await world?.close();
});

const run = async (relay: RelayProcess) => {
  const res = await request(`${relay.opsUrl}/admin/accounting/run`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: res.statusCode, body: (await res.body.json()) as AccountingRunResult };
};

describe('accounting on two replicas sharing PostgreSQL', () => {
  it('runs one job at a time: the second waits for the first, then runs', async () => {
    world = await startAccountingWorld();
    const w = world;
    const env = { ...w.env, CAPILLARY_AUTH_SECRETS: SECRET, ADMIN_TOKEN: ADMIN, STORE_URL: await createTestDatabase() };
    relays.push(...(await Promise.all([startRelay(env), startRelay(env)])));
    const [a, b] = relays as [RelayProcess, RelayProcess];

    // A's first read of Capillary is held: A is mid-run, holding the lock.
    w.capillary.setFault('/metrics', { kind: 'hold' }, { times: 1 });
    const first = run(a);
    await w.capillary.waitFor((c) => c.requests.some((r) => r.outcome === 'held'));
    const second = run(b);
    // B finds the lock taken and waits; only then does Capillary answer A.
    await waitFor(() => b.logs.some((line) => line.includes('another replica is running accounting')), { what: 'B waiting for the lock' });
    expect(w.capillary.requests.filter((r) => r.path.endsWith('/metrics'))).toHaveLength(1);
    w.capillary.release();
    const [ra, rb] = await Promise.all([first, second]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect(ra.body.runId).not.toBe(rb.body.runId);
    expect(ra.body.routes[0]!.windows).toHaveLength(8);
    expect(rb.body.routes[0]!.windows).toHaveLength(8);

    // Whose reads: one replica's 8 windows, then the other's 8, never mixed.
    const tokens = w.capillary.requests.filter((r) => r.path.endsWith('/metrics')).map((r) => r.token);
    expect(tokens).toHaveLength(16);
    const changes = tokens.filter((token, i) => i > 0 && token !== tokens[i - 1]).length;
    expect(changes).toBe(1);
    expect(new Set(tokens.slice(0, 8)).size).toBe(1);
    expect(tokens[0]).not.toBe(tokens[8]);
  });
});
