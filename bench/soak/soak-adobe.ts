/**
 * The soak's stand-in for AEP streaming ingestion: unlike bench/fakes/fake-adobe-fast.ts it parses every
 * batch and counts each accepted ExperienceEvent by its `_id` (the Capillary eventId), so the soak
 * can tell lost from doubled messages. Faults: refuse connections, answer 503, answer 429 with
 * Retry-After. Load is modest (about 100 messages/s), so parsing costs nothing that matters.
 */
import http from 'node:http';
import { stoppable } from '../../support/stoppable-server.js';

export type SoakDcsMode = { kind: 'ok' } | { kind: 'refused' } | { kind: 'status'; status: 503 | 429; retryAfterS?: number };

/** One message accepted again after its first acceptance. */
export interface RepeatDelivery {
  id: string;
  firstAt: number;
  againAt: number;
}

export interface SoakDcs {
  readonly inletUrl: string;
  /** Time of the first acceptance of each `_id`. */
  readonly firstAccepted: Map<string, number>;
  readonly repeats: RepeatDelivery[];
  /** Accepted messages without an `_id` (none expected: profile records are off in the soak). */
  unidentified(): number;
  statuses(): Record<string, number>;
  setMode(mode: SoakDcsMode): Promise<void>;
  close(): Promise<void>;
}

function idOf(message: unknown): string | undefined {
  const id = (message as { body?: { xdmEntity?: { _id?: unknown } } } | null)?.body?.xdmEntity?._id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

export async function startSoakDcs(inletId = 'soak-inlet'): Promise<SoakDcs> {
  const firstAccepted = new Map<string, number>();
  const repeats: RepeatDelivery[] = [];
  const statuses: Record<string, number> = {};
  let unidentified = 0;
  let mode: SoakDcsMode = { kind: 'ok' };
  let xaction = 0;

  const reply = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/collection/batch/')) return reply(res, 404, { title: 'Not Found' });
      if (mode.kind === 'status') {
        const headers: Record<string, string> = mode.retryAfterS === undefined ? {} : { 'retry-after': String(mode.retryAfterS) };
        return reply(res, mode.status, { status: mode.status, title: http.STATUS_CODES[mode.status] }, headers);
      }
      let messages: unknown[];
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messages?: unknown };
        if (!Array.isArray(parsed.messages)) throw new Error('messages must be an array');
        messages = parsed.messages;
      } catch (error) {
        return reply(res, 400, { status: 400, title: 'Bad Request', detail: String(error) });
      }
      const now = Date.now();
      const responses = messages.map((message) => {
        const id = idOf(message);
        if (id === undefined) unidentified += 1;
        else {
          const first = firstAccepted.get(id);
          if (first === undefined) firstAccepted.set(id, now);
          else repeats.push({ id, firstAt: first, againAt: now });
        }
        return { xactionId: `${++xaction}-${inletId}` };
      });
      reply(res, 207, { inletId, batchId: `b${xaction}`, receivedTimeMs: now, responses });
    });
  });
  const { listen, stop } = stoppable(server);

  const port = await listen(0);
  return {
    inletUrl: `http://127.0.0.1:${port}/collection/${inletId}`,
    firstAccepted,
    repeats,
    unidentified: () => unidentified,
    statuses: () => ({ ...statuses }),
    async setMode(next) {
      mode = next;
      if (next.kind === 'refused') await stop();
      else if (!server.listening) await listen(port);
    },
    close: stop,
  };
}
