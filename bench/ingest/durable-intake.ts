/**
 * The durable-intake limit (issue: performance, round three): the least a relay can do in this stack
 * before its 202, and so the ruler the relay's design is measured against. What it does is
 * durable-intake-core.ts; this is its process. Env: PORT, STORE_PATH (the database file; created).
 */
import { durableIntake } from './durable-intake-core.js';
import { serveUntilSignal } from './serve-until-signal.js';

const path = process.env['STORE_PATH'];
if (!path) throw new Error('durable-intake: STORE_PATH must be set');
const { app, db } = durableIntake(path);
await serveUntilSignal(app, async () => db.close());
