import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccountingReport } from '../../src/http/accounting-schemas.js';
import { AEP } from '../helpers/aep-relay.js';
import { acceptedIn, addFailedBatch, DAY, setLanded, startAccountingWorld, type AccountingWorld } from '../helpers/accounting-world.js';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 17: the accounting job killed -9 in the middle of a run, at its worst moment: today's failed
 * records already made dead letters, today's window not yet saved. The restarted relay resumes the
 * same run by itself: the windows saved before the kill are not read again, today's is judged once
 * more, and nothing is counted twice (2 dead letters, each with one `dead` line in its history).
 */
const SECRET = 'accounting-resume-secret-0123';
const ADMIN = 'accounting-resume-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'relay-accounting-'));
const dbPath = join(dir, 'relay.db');
let world: AccountingWorld | undefined;
let relay: RelayProcess | undefined;

afterAll(async () => {
  await relay?.kill('SIGKILL');
  await world?.close();
  rmSync(dir, { recursive: true, force: true });
});

const admin = async <T>(r: RelayProcess, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: T }> => {
  const res = await request(`${r.opsUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: res.statusCode, body: (await res.body.json()) as T };
};

function inStore<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('accounting killed -9 mid-run', () => {
  it('resumes the same run after a restart without reading saved windows again or counting anything twice', async () => {
    world = await startAccountingWorld();
    const w = world;
    const env = { ...w.env, CAPILLARY_AUTH_SECRETS: SECRET, ADMIN_TOKEN: ADMIN, STORE_URL: `sqlite:${dbPath}` };
    relay = await startRelay(env);
    const ids = ['resume-1', 'resume-2', 'resume-3'];
    for (const id of ids) {
      const res = await request(`${relay.url}/webhooks/capillary`, { method: 'POST', headers: { authorization: SECRET, 'content-type': 'application/json' }, body: JSON.stringify(sampleWithId('points-issued', id)) });
      expect(res.statusCode).toBe(202);
      await res.body.text();
    }
    await w.dcs.waitFor((d) => ids.every((id) => d.idCounts.get(id) === 1));
    const today = Math.floor(Date.now() / DAY) * DAY;
    for (const id of ids) w.capillary.deliveries.push({ eventId: id, eventName: 'pointsIssued', status: 'DELIVERED', eventTime: Date.now() });
    w.capillary.deliveries.push({ eventId: 'gave-up-1', eventName: 'pointsIssued', status: 'FAILED', eventTime: Date.now() }, { eventId: 'gave-up-2', eventName: 'tierUpgraded', status: 'FAILED', eventTime: Date.now() });
    const failed = acceptedIn(w.dcs, AEP.event.datasetId).slice(0, 2) as Array<{ body: { xdmEntity: Record<string, unknown> } }>;
    addFailedBatch(w.platform, { id: 'b-resume', dataset: AEP.event.datasetId, created: Date.now() - 60_000, completed: Date.now() + 1000, records: failed.map((m) => m.body.xdmEntity) });
    setLanded(w.platform, AEP.event.datasetId, today, acceptedIn(w.dcs, AEP.event.datasetId).length - 2);
    setLanded(w.platform, AEP.profile.datasetId, today, acceptedIn(w.dcs, AEP.profile.datasetId).length);

    // Two batch listings a window (event and profile datasets), 8 windows: the 16th is today's profile
    // listing, asked for right after today's failed records were made dead letters. It is held.
    const batchListings = () => w.platform.requests.filter((r) => r.path === '/data/foundation/catalog/batches').length;
    w.platform.events.on('request', () => {
      if (batchListings() === 15) w.platform.setFault('/catalog/batches', { kind: 'hold' });
    });
    const first = relay;
    void request(`${first.opsUrl}/admin/accounting/run`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.body.text()).catch(() => undefined);
    await w.platform.waitFor((p) => p.requests.some((r) => r.outcome === 'held'), 20_000);
    await first.kill('SIGKILL');

    const before = inStore((db) => ({
      runs: db.prepare('SELECT run_id, finished_at FROM accounting_runs').all() as Array<{ run_id: string; finished_at: number | null }>,
      windows: db.prepare('SELECT window_start FROM accounting_windows ORDER BY window_start').all() as Array<{ window_start: number }>,
      dead: (db.prepare(`SELECT count(*) AS n FROM messages WHERE dead_reason = 'rejected_after_acceptance'`).get() as { n: number }).n,
    }));
    expect(before.runs).toEqual([{ run_id: expect.any(String), finished_at: null }]);
    expect(before.windows.map((r) => r.window_start)).toEqual(Array.from({ length: 7 }, (_, i) => today - (7 - i) * DAY));
    expect(before.dead).toBe(2);
    const metricsCallsBefore = w.capillary.requests.filter((r) => r.path.endsWith('/metrics')).length;
    expect(metricsCallsBefore).toBe(8);

    w.platform.clearFaults();
    relay = await startRelay(env);
    const second = relay;
    const after = await waitFor(() => inStore((db) => {
      const runs = db.prepare('SELECT run_id, finished_at FROM accounting_runs').all() as Array<{ run_id: string; finished_at: number | null }>;
      return runs.length === 1 && runs[0]!.finished_at !== null ? runs : undefined;
    }), { what: 'the interrupted run resumed and finished', timeoutMs: 20_000 });
    expect(after[0]!.run_id).toBe(before.runs[0]!.run_id);
    expect(inStore((db) => db.prepare('SELECT DISTINCT run_id FROM accounting_windows').all())).toEqual([{ run_id: before.runs[0]!.run_id }]);

    // Only today's window was read from Capillary again.
    const metricsCalls = w.capillary.requests.filter((r) => r.path.endsWith('/metrics')).slice(metricsCallsBefore);
    expect(metricsCalls.map((r) => Number(r.query.startDate))).toEqual([today]);

    const report = await admin<AccountingReport>(second, 'GET', '/admin/accounting');
    const todayWindow = report.body.routes[0]!.windows.find((x) => x.from === today)!;
    expect(todayWindow.findings.map((f) => [f.kind, f.count])).toEqual([
      ['capillary_gave_up', 2],
      ['rejected_after_acceptance', 2],
    ]);
    const letters = await admin<{ items: Array<{ eventId: string; reason: string }> }>(second, 'GET', '/admin/dead-letters');
    expect(letters.body.items.map((d) => d.reason)).toEqual(['rejected_after_acceptance', 'rejected_after_acceptance']);
    for (const { eventId } of letters.body.items) {
      const attempts = await admin<{ items: Array<{ outcome: string }> }>(second, 'GET', `/admin/events/${encodeURIComponent(eventId)}/attempts`);
      expect(attempts.body.items.map((a) => a.outcome).filter((o) => o === 'dead')).toEqual(['dead']);
    }
  });
});
