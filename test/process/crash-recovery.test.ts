import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sampleWithId } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait-for.js';

const SECRET = 'crash-test-secret-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
const env = {
  CAPILLARY_AUTH_SECRETS: SECRET,
  STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
  DRY_RUN_FILE: join(dir, 'dry-run.ndjson'),
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
afterAll(async () => {
  await relay?.kill('SIGKILL');
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

const deliveredIds = () => {
  let text = '';
  try {
    text = readFileSync(env.DRY_RUN_FILE, 'utf8');
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    try {
      const id = (JSON.parse(line) as { body: { xdmEntity: { _id?: string } } }).body.xdmEntity._id;
      if (typeof id === 'string') ids.push(id);
    } catch {
      // the line the kill tore in half, or a blank line: the sink rewrites that message whole
    }
  }
  return ids;
};

describe('kill -9 while webhooks are arriving', () => {
  it('keeps every acknowledged event, delivers each exactly once after restart, and answers duplicate for it', async () => {
    relay = await startRelay(env);
    const ids = Array.from({ length: 600 }, (_, i) => `crash-${i}`);
    const acknowledged: string[] = [];
    let next = 0;
    let killed = false;
    // 16 concurrent senders; kill -9 the relay once a third of the events are acknowledged.
    const sender = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const result = await postEvent(relay!.url, id);
        if (result.status === 202) acknowledged.push(id);
        if (!killed && acknowledged.length >= 200) {
          killed = true;
          await relay!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    expect(killed).toBe(true);
    const before = new Set(deliveredIds());
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);

    relay = await startRelay(env);
    const after = await waitFor(() => {
      const delivered = deliveredIds();
      const set = new Set(delivered);
      return acknowledged.every((id) => set.has(id)) ? delivered : undefined;
    }, { timeoutMs: 20_000, what: 'every acknowledged event in the dry-run file' }).catch((error: unknown) => {
      const set = new Set(deliveredIds());
      const missing = acknowledged.filter((id) => !set.has(id));
      console.error(`missing ${missing.length} of ${acknowledged.length}: ${missing.slice(0, 5).join(', ')}; logs: ${relay?.logs.slice(-5).join('\n')}`);
      throw error;
    });

    const counts = new Map<string, number>();
    for (const id of after) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    console.info(`crash test: ${acknowledged.length} acknowledged before kill -9, ${before.size} delivered before the kill, ${after.length} delivered after restart, 0 lost, ${twice.length} twice`);

    const redelivered = await Promise.all(acknowledged.map((id) => postEvent(relay!.url, id)));
    expect(redelivered.every((r) => r.status === 202 && r.body?.status === 'duplicate')).toBe(true);
    await relay.kill('SIGTERM');
  }, 90_000);
});
