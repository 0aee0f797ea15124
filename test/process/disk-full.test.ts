import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aepEnv, xdmMessageValidator } from '../helpers/aep-relay.js';
import { startFakeDcs, startFakeIms, type FakeDcs, type FakeIms } from '../helpers/fake-adobe.js';
import { ensureBuilt, startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { SAMPLES, sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 11: the disk under the SQLite store fills up. The relay process runs with its database on
 * an 8 MB tmpfs (this needs root, as in CI); a filler file leaves it little room. Webhooks then
 * answer 503 with Retry-After, /readyz names the store, the process stays up; once the filler is
 * deleted intake resumes by itself within seconds and every acknowledged event reaches Adobe.
 */
const SECRET = 'disk-full-secret-0123456789';
const SENDERS = 4;
/**
 * What the filler takes, and what deleting it gives back: the store fills the rest of the 8 MB.
 * 3 MB is what an earlier version could not recover with: its WAL had grown to 5 MB, and copying
 * it into the database file needed more than was freed.
 */
const FILLER_BYTES = 3 * 1024 * 1024;
/** 503s to see (and /readyz failing) before space is given back. */
const REFUSED_WHILE_FULL = 20;
/** "Within seconds": intake resumes this soon after the filler is deleted, or the test fails. */
const RESUME_WITHIN_MS = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'relay-disk-full-'));
const filler = join(dir, 'filler');
const agent = new Agent({ connections: SENDERS + 2 });
let ims: FakeIms;
let dcs: FakeDcs;
let relay: RelayProcess | undefined;

beforeAll(async () => {
  ensureBuilt();
  // Root is needed to mount; the failure says so rather than skipping the test.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
  ims = await startFakeIms();
  dcs = await startFakeDcs({ ims, validate: xdmMessageValidator });
});

afterAll(async () => {
  await relay?.kill('SIGKILL');
  await agent.close();
  await dcs?.close();
  await ims?.close();
  try {
    execFileSync('umount', [dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

type Answer = { status: number; retryAfter?: string; error?: string };

async function post(url: string, body: string): Promise<Answer> {
  const res = await request(`${url}/webhooks/capillary`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: SECRET, 'content-type': 'application/json' },
    body,
  });
  const parsed = JSON.parse(await res.body.text()) as { error?: string };
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, ...(typeof retryAfter === 'string' ? { retryAfter } : {}), ...(parsed.error ? { error: parsed.error } : {}) };
}

async function readiness(url: string): Promise<{ status: number; store: string }> {
  const res = await request(`${url}/readyz`, { dispatcher: agent });
  const body = (await res.body.json()) as { checks: { store: string } };
  return { status: res.statusCode, store: body.checks.store };
}

const freeBytes = () => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};
const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

describe('the disk under the SQLite store fills up', () => {
  it('answers 503 with Retry-After, fails /readyz naming the store, and resumes by itself when space returns', async () => {
    const dbPath = join(dir, 'relay.db');
    relay = await startRelay(
      aepEnv(ims, dcs, {
        CAPILLARY_AUTH_SECRETS: SECRET,
        STORE_URL: `sqlite:${dbPath}`,
        DELIVERY_LINGER_MS: '5',
        DELIVERY_POLL_INTERVAL_MS: '50',
        DELIVERY_RETRY_BASE_MS: '50',
        DELIVERY_RETRY_MAX_MS: '500',
      }),
    );
    const { url, opsUrl } = relay;
    writeFileSync(filler, Buffer.alloc(FILLER_BYTES));
    const storeRoom = freeBytes();

    const names = Object.keys(SAMPLES);
    const acknowledged = new Set<string>();
    const refused: Array<{ id: string; body: string }> = [];
    const refusals: Answer[] = [];
    const unexpected: string[] = [];
    let firstAckAfterSpace: number | undefined;
    let spaceBackAt: number | undefined;
    let sequence = 0;
    let sending = true;
    const sender = async () => {
      while (sending) {
        const id = `full-${String(sequence).padStart(6, '0')}`;
        const body = JSON.stringify(sampleWithId(names[sequence % names.length]!, id));
        sequence += 1;
        const answer = await post(url, body);
        if (answer.status === 202) {
          acknowledged.add(id);
          if (spaceBackAt !== undefined) firstAckAfterSpace ??= performance.now();
        } else if (answer.status === 503) {
          refused.push({ id, body });
          refusals.push(answer);
          await new Promise((resolve) => setTimeout(resolve, 50)); // Capillary waits before a retry
        } else unexpected.push(`${id}: ${answer.status} ${answer.error ?? ''}`);
      }
    };
    const senders = Promise.all(Array.from({ length: SENDERS }, sender));

    await waitFor(() => refusals.length >= REFUSED_WHILE_FULL, { timeoutMs: 60_000, what: `${REFUSED_WHILE_FULL} webhooks refused on the full disk` });
    const full = await readiness(opsUrl);
    const ackedWhileFilling = acknowledged.size;
    const walAtFull = sizeOf(`${dbPath}-wal`);
    const dbAtFull = sizeOf(dbPath);
    
    rmSync(filler);
    spaceBackAt = performance.now();
    await waitFor(() => firstAckAfterSpace !== undefined, { timeoutMs: RESUME_WITHIN_MS, what: 'a webhook acknowledged after space returned' });
    const resumedMs = firstAckAfterSpace! - spaceBackAt;
    await waitFor(async () => (await readiness(opsUrl)).status === 200, { timeoutMs: RESUME_WITHIN_MS, what: '/readyz 200 after space returned' });
    const readyMs = performance.now() - spaceBackAt;
    const ackedAfter = acknowledged.size;
    await waitFor(() => acknowledged.size >= ackedAfter + 100, { timeoutMs: 20_000, what: '100 more events acknowledged' });
    sending = false;
    await senders;

    expect(unexpected).toEqual([]);
    expect(relay.child.exitCode).toBeNull();
    expect(full.status).toBe(503);
    expect(full.store).toBe('failing: SQLITE_FULL');
    expect(refusals.filter((r) => r.status !== 503 || !(Number(r.retryAfter) > 0))).toEqual([]);
    expect(new Set(refusals.map((r) => r.error))).toEqual(new Set(['store_unavailable']));

    // Capillary retries what got a 503.
    const retried = await Promise.all(refused.map(async ({ id, body }) => ({ id, answer: await post(url, body) })));
    expect(retried.filter((r) => r.answer.status !== 202)).toEqual([]);
    for (const { id } of retried) acknowledged.add(id);

    await dcs.waitFor((d) => [...acknowledged].every((id) => d.idCounts.has(id)), 30_000);
    const lost = [...acknowledged].filter((id) => !dcs.idCounts.has(id)).length;
    expect(lost).toBe(0);
    console.info(
      `disk full test: ${ackedWhileFilling} acknowledged while filling, ${refusals.length} webhooks answered 503 + Retry-After on the full disk ` +
        `(/readyz: store ${full.store}; database ${dbAtFull} B, WAL ${walAtFull} B at that moment), ${storeRoom} B were free for the store, ${FILLER_BYTES} B freed, ` +
        `first 202 ${Math.round(resumedMs)} ms and /readyz 200 ${Math.round(readyMs)} ms after, ${refused.length} refused events re-posted and taken, ` +
        `${acknowledged.size} acknowledged in all, ${acknowledged.size - lost} delivered, lost ${lost}`,
    );
  }, 120_000);
});
