import { mkdtempSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapEvent } from '../../src/mapping/map-event.js';
import { createSqliteStore } from '../../src/store/sqlite/store.js';
import { DEFAULT_ROUTE, type NewEvent, type Settlement } from '../../src/store/types.js';
import { IN_PROCESS_MAPPING, sampleEvents } from '../mapping/sample-events.js';
const events = 10000, turn = Number(process.env.TURN ?? 24);
const dir = mkdtempSync(join(tmpdir(), 'walpages-'));
const path = join(dir, 'relay.db');
const store = createSqliteStore({ path, synchronous: 'full', checkpointIntervalMs: 0 });
const db0 = new Database(path); db0.pragma('wal_autocheckpoint = 0'); 
const inputs: NewEvent[] = sampleEvents(events, 'wp', Date.now).map(({ event, payload }) => ({ event, payload, mapping: mapEvent(event, IN_PROCESS_MAPPING) }));
// warm: 2000 first, then checkpoint so the WAL holds only the measured part
let i = 0;
const step = async (upto: number) => { for (; i < upto; i += turn) { await Promise.all(inputs.slice(i, i + turn).map((x) => store.acceptEvent(x))); if ((i / turn) % 20 === 19) { const c = await store.claimDue({ owner: 'w', now: Date.now(), leaseMs: 30000, limit: 500, route: DEFAULT_ROUTE }); const now = Date.now(); await store.settle('w', c.map((m): Settlement => ({ id: m.id, outcome: 'delivered', attempt: { at: now, durationMs: 5, status: 200, batchSize: c.length, xactionId: 'x' } })), now); } } };
await step(2000);
db0.pragma('wal_checkpoint(TRUNCATE)');
const pin = new Database(path); pin.exec('BEGIN'); pin.prepare('SELECT count(*) FROM events').get();
await step(events);
pin.exec('COMMIT'); pin.close();
const wal = readFileSync(path + '-wal');
const pageSize = wal.readUInt32BE(8);
const counts = new Map<number, number>();
let frames = 0;
for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) { const pg = wal.readUInt32BE(off); counts.set(pg, (counts.get(pg) ?? 0) + 1); frames++; }
const names = new Map<number, string>((db0.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]).map((r) => [r.pageno, r.name]));
const by = new Map<string, number>();
for (const [pg, n] of counts) { const k = names.get(pg) ?? '?'; by.set(k, (by.get(k) ?? 0) + n); }
const measured = events - 2000;
console.log(`turn ${turn}: ${frames} frames, ${(frames / measured).toFixed(2)} per webhook`);
for (const [k, n] of [...by].sort((a, b) => b[1] - a[1])) console.log(`${(n / measured).toFixed(3).padStart(7)} ${k}`);
db0.close(); await store.close();
