/**
 * The least relay: the durable-intake limit (durable-intake-core.ts) plus the rest of a relay's job
 * done as cheaply as this stack allows, so the bench can say what a relay that maps and delivers
 * must cost at least, whatever its design. Not a relay: no auth, metrics, logs, retries, dead letters,
 * console, or isolation of the fsync from the event loop. What it adds to the limit:
 *   - one row per webhook (the limit's: the raw event), mapped at delivery, no message rows;
 *   - delivery from a cursor: the next 500 events by rowid, each parsed, normalized and mapped by the
 *     relay's own code (normalizeEnvelope, mapEvent, messageBody), sent as one DCS batch
 *     (batchRequestBody) to the fake Adobe with undici, its 207 parsed;
 *   - one UPDATE of the cursor per batch Adobe took (its own commit and fsync), and no other write.
 * Set beside the relay (`bench:intake -- --sides=relay,least-relay,intake`): what the relay spends
 * over it is what its design (the thread, the message rows and their states, the console's indexes,
 * auth, metrics, logs) costs; what it spends over the limit is what mapping and delivering cost at least.
 *
 * Env: the relay's (its mapping settings and AEP_INLET_URL), PORT, STORE_PATH (the database file).
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config/config.js';
import { batchUrlFromInletUrl } from '../../src/adobe/dcs-client.js';
import { batchRequestBody } from '../../src/delivery/batcher.js';
import { normalizeEnvelope } from '../../src/ingest/envelope.js';
import { mapEvent } from '../../src/mapping/map-event.js';
import { messageBody } from '../../src/store/shared/message-body.js';
import { durableIntake } from './durable-intake-core.js';
import { serveUntilSignal } from './serve-until-signal.js';

const path = process.env['STORE_PATH'];
if (!path) throw new Error('least-relay: STORE_PATH must be set');
const config = loadConfig(process.env);
const batchUrl = batchUrlFromInletUrl(config.env.AEP_INLET_URL!);
/** Events per DCS request: about the relay's (202-233 messages a request under ingest). */
const BATCH = 500;

let pending = 0;
let delivering = false;
let tail: NodeJS.Timeout | undefined;
const { app, db } = durableIntake(path, (inserted) => {
  pending += inserted;
  if (pending >= BATCH) start();
  // The last events of a burst go within 20 ms, as a relay's would.
  else tail ??= setTimeout(start, 20);
});
const start = () => void deliver().catch((error: Error) => process.stderr.write(`least-relay: ${error.message}\n`));
db.exec('CREATE TABLE IF NOT EXISTS delivered (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL); INSERT OR IGNORE INTO delivered VALUES (1, 0)');
const next = db.prepare<[number, number], { id: number; payload: string }>('SELECT rowid AS id, payload FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?');
const advance = db.prepare('UPDATE delivered SET upto = ? WHERE id = 1');
let upto = (db.prepare('SELECT upto FROM delivered').get() as { upto: number }).upto;

async function deliver(): Promise<void> {
  if (tail) clearTimeout(tail);
  tail = undefined;
  if (delivering) return;
  delivering = true;
  try {
    for (let rows = next.all(upto, BATCH); rows.length > 0; rows = next.all(upto, BATCH)) {
      const bodies: { body: string }[] = [];
      for (const row of rows) {
        const normalized = normalizeEnvelope(JSON.parse(row.payload), Date.now());
        if (!normalized.ok) continue;
        for (const message of mapEvent(normalized.event, config.mapping).messages) bodies.push({ body: messageBody(message) });
      }
      if (bodies.length > 0) {
        const res = await request(batchUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batchRequestBody(bodies) });
        const answer = JSON.parse(await res.body.text()) as unknown;
        if ((res.statusCode !== 200 && res.statusCode !== 207) || answer === null) throw new Error(`least-relay: the fake Adobe answered ${res.statusCode}`);
      }
      upto = rows.at(-1)!.id;
      advance.run(upto);
      pending = Math.max(0, pending - rows.length);
    }
  } finally {
    delivering = false;
    // Events committed during the last request's round trip: their turn's call found this one busy.
    if (pending > 0) tail ??= setTimeout(start, 20);
  }
}

await serveUntilSignal(app, async () => db.close());
