import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The durable-intake limit's whole intake (durable-intake.ts), shared with the least relay
 * (least-relay.ts), which adds delivery to it: Fastify parses the JSON, the event id is read, the raw
 * body is inserted into SQLite (WAL, synchronous=FULL, as the relay's default), and every request of
 * one event-loop turn shares one transaction and its one fsync; the 202 goes out once that commit
 * returns. No auth, schema, mapping, metrics or logging.
 *
 * Inline, not on a worker thread: the relay runs its store on a thread so the fsync does not stall
 * the event loop, but a thread costs CPU (a structured clone each way, wake-ups) and buys no
 * parallelism on the one core the pinned rounds give each server. The limit must be the cheapest
 * design, so it commits on the event loop: what it loses in latency it does not lose in CPU.
 * SQLite checkpoints in its commits (wal_autocheckpoint, 1,000 pages): the same pages are copied
 * whichever thread copies them.
 *
 * `afterCommit`: called after each turn's commit with how many rows it inserted.
 */
export function durableIntake(path: string, afterCommit: (inserted: number) => void = () => undefined): { app: FastifyInstance; db: Database.Database } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, payload TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO events (event_id, received_at, payload) VALUES (?, ?, ?) ON CONFLICT (event_id) DO NOTHING');

  interface Waiting {
    eventId: string;
    payload: string;
    done: (inserted: boolean | Error) => void;
  }
  let turn: Waiting[] = [];
  const commitTurn = db.transaction((group: Waiting[]) => group.map((w) => insert.run(w.eventId, Date.now(), w.payload).changes > 0));
  const flush = () => {
    const group = turn;
    turn = [];
    let inserted: boolean[];
    try {
      inserted = commitTurn(group);
    } catch (error) {
      for (const w of group) w.done(error as Error);
      return;
    }
    group.forEach((w, i) => w.done(inserted[i]!));
    afterCommit(inserted.filter(Boolean).length);
  };
  const commit = (eventId: string, payload: string) =>
    new Promise<boolean>((resolve, reject) => {
      if (turn.length === 0) setImmediate(flush);
      turn.push({ eventId, payload, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });

  const app = Fastify({ logger: false, bodyLimit: 2_097_152 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, { raw: body as string, parsed: JSON.parse(body as string) as unknown });
    } catch (error) {
      (error as { statusCode?: number }).statusCode = 400;
      done(error as Error, undefined);
    }
  });

  app.post('/webhooks/capillary', async (request, reply) => {
    const { raw, parsed } = request.body as { raw: string; parsed: { eventId?: unknown } | null };
    const id = parsed?.eventId;
    if ((typeof id !== 'string' || id === '') && typeof id !== 'number') return reply.code(400).send({ error: 'no_event_id' });
    const eventId = String(id);
    const inserted = await commit(eventId, raw);
    return reply.code(202).send({ eventId, status: inserted ? 'accepted' : 'duplicate' });
  });
  return { app, db };
}
