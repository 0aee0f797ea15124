import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../src/errors.js';
import { createSqliteStore } from '../../../src/store/sqlite/store.js';
import { createThreadedSqliteStore, threadInternals } from '../../../src/store/sqlite/thread.js';
import { FORWARDED_METHODS } from '../../../src/store/sqlite/thread-wire.js';
import type { AcceptResult, Store } from '../../../src/store/types.js';
import { capillaryEvent, describeStoreContract, mapped, outbound } from '../store-contract.js';
import { describeStoreDataEdges } from '../store-contract-data-edges.js';
import { describeStoreConsole } from '../store-contract-console.js';
import { describeStoreRoutes } from '../store-contract-routes.js';
import { describeStoreChunks } from '../store-contract-chunks.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const MB = 1024 * 1024;
const open = (name: string) => async () => createThreadedSqliteStore({ path: join(dir, `${name}-${++n}.db`), synchronous: 'full' });

describeStoreContract('SQLite on its thread', { open: open('contract') });
describeStoreDataEdges('SQLite on its thread', { open: open('edges') });
describeStoreConsole('SQLite on its thread', { open: open('console') });
describeStoreRoutes('SQLite on its thread', { open: open('routes') });
describeStoreChunks('SQLite on its thread', { open: open('chunks') });

const PAYLOAD = JSON.stringify({ padding: 'x'.repeat(3000) });
const accept = (store: Store, event = capillaryEvent()) => store.acceptEvent({ event, payload: '{}', mapping: mapped(outbound(event.eventId)) });

describe('the SQLite store on its own thread', () => {
  it('forwards every method of the engine except the local ones', async () => {
    const engine = createSqliteStore({ path: ':memory:', synchronous: 'normal' });
    const methods = Object.keys(engine).filter((key) => typeof engine[key as keyof Store] === 'function');
    await engine.close();
    expect(methods.filter((m) => m !== 'onWork' && m !== 'close').sort()).toEqual([...FORWARDED_METHODS].sort());
  });

  it('sends the calls of one turn as one message, and the engine commits them together', async () => {
    const store = await createThreadedSqliteStore({ path: join(dir, 'turn.db'), synchronous: 'full' });
    const before = threadInternals.get(store)!.messagesSent;
    const results = await Promise.all([...Array.from({ length: 100 }, () => accept(store)), store.queueStats(Date.now())]);
    expect(threadInternals.get(store)!.messagesSent - before).toBe(1);
    expect(results.slice(0, 100).every((r) => (r as AcceptResult).outcome === 'accepted')).toBe(true);
    expect((await store.queueStats(Date.now())).pending).toBe(100);
    await store.close();
  });

  it('tells work listeners before the commit that caused the work resolves', async () => {
    const store = await createThreadedSqliteStore({ path: join(dir, 'work.db'), synchronous: 'full' });
    const heard: string[] = [];
    store.onWork(() => heard.push('work'));
    await accept(store).then(() => heard.push('accepted'));
    expect(heard).toEqual(['work', 'accepted']);
    await store.close();
  });

  it('answers the calls in flight when closed, then refuses new ones', async () => {
    const path = join(dir, 'close.db');
    const store = await createThreadedSqliteStore({ path, synchronous: 'full' });
    const events = Array.from({ length: 50 }, () => capillaryEvent());
    const inFlight = events.map((event) => accept(store, event));
    const closed = store.close();
    expect((await Promise.all(inFlight)).every((r) => r.outcome === 'accepted')).toBe(true);
    await closed;
    await expect(accept(store)).rejects.toBeInstanceOf(StoreUnavailableError);
    const reopened = createSqliteStore({ path, synchronous: 'full' });
    expect((await reopened.queueStats(Date.now())).pending).toBe(50);
    await reopened.close();
  });

  it('rejects waiting and later calls with the store-unavailable error when its thread dies, and says so once', async () => {
    const failures: string[] = [];
    const store = await createThreadedSqliteStore({ path: join(dir, 'death.db'), synchronous: 'full', onThreadFailure: (detail) => failures.push(detail) });
    const waiting = accept(store);
    await threadInternals.get(store)!.worker.terminate();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(((error as Error).cause as { code?: string }).code).toBe('STORE_THREAD_DIED');
    await expect(accept(store)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.checkWritable()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/SQLite store thread exited/);
    await store.close();
  });

  it('answers a call that cannot cross with the store-unavailable error, and the rest of its turn as usual', async () => {
    const store = await createThreadedSqliteStore({ path: join(dir, 'uncloneable.db'), synchronous: 'full' });
    const [bad, good] = await Promise.allSettled([store.getEvent((() => 'x') as unknown as string), accept(store)]);
    expect(bad.status === 'rejected' && bad.reason).toBeInstanceOf(StoreUnavailableError);
    expect(good.status === 'fulfilled' && good.value.outcome).toBe('accepted');
    await store.close();
  });

  it('brings the engine errors back with their class, SQLite code and message (a full store)', async () => {
    const store = await createThreadedSqliteStore({ path: join(dir, 'capped.db'), synchronous: 'normal', maxSizeBytes: 4 * MB, checkpointIntervalMs: 0 });
    let refusal: unknown;
    for (let batch = 0; refusal === undefined && batch < 500; batch += 1) {
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => {
        const event = capillaryEvent();
        return store.acceptEvent({ event, payload: PAYLOAD, mapping: mapped(outbound(event.eventId)) });
      }));
      refusal = results.find((r) => r.status === 'rejected')?.reason;
    }
    expect(refusal).toBeInstanceOf(StoreUnavailableError);
    expect((refusal as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
    expect((refusal as StoreUnavailableError).statusCode).toBe(503);
    const cause = (refusal as Error).cause as { code?: string; message?: string };
    expect(cause.code).toBe('SQLITE_FULL');
    expect(cause.message).toBe('database or disk is full');
    const readiness = await store.checkWritable().catch((e: unknown) => e);
    expect(((readiness as Error).cause as { code?: string }).code).toBe('SQLITE_FULL');
    await store.close();
  });
});
