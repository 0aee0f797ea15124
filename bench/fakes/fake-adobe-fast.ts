/**
 * Fast stand-ins for Adobe IMS and AEP streaming ingestion (DCS), for the benchmark only. They share
 * the machine with the relay, so they do as little as possible: the DCS counts messages with a byte
 * search (no JSON parse) and answers 207 with one `xactionId` per message, as Adobe does.
 * Behaviour the relay relies on is in /work/shared/reference/adobe-streaming-and-ims.md; the full
 * fakes with fault injection are test/helpers/fake-adobe.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stoppable } from '../../support/stoppable-server.js';

/** Each DCS message has exactly one `body.xdmMeta` (dcs-message.ts): counting it counts messages. */
const MESSAGE_MARKER = Buffer.from('"xdmMeta":');

export interface DcsStats {
  requests: number;
  messages: number;
  maxRequestBytes: number;
  /** Largest number of requests in any sliding 1-second window (Adobe: 1,000). */
  maxRequestsPerSecond: number;
  /** Largest number of messages in any sliding 1-second window (Adobe: 10,000). */
  maxMessagesPerSecond: number;
  firstMessageAt: number | undefined;
  lastMessageAt: number | undefined;
  /** Requests with a body over 1 MB (Adobe answers 413). */
  overLimit: number;
}

export interface FastDcs {
  readonly port: number;
  readonly inletUrl: string;
  stats(): DcsStats;
  /** Start counting afresh (new sliding windows, new first/last times). */
  reset(): void;
  /** Time (Date.now()) at which the n-th message since reset() arrived, if it has. */
  timeOfMessage(n: number): number | undefined;
  setDelay(ms: number): void;
  /** Answer every request with this status (e.g. 503: the inlet is up but failing), or normally again with undefined. */
  failWith(status: number | undefined): void;
  /** Stop listening and cut every connection: the relay gets ECONNREFUSED, like a host that is down. */
  outage(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

const ADOBE_MAX_BYTES = 1_000_000;

/** A sliding-window maximum over timestamped amounts, in O(1) amortized per record. */
function slidingMax(windowMs: number) {
  const times: number[] = [];
  const amounts: number[] = [];
  let head = 0;
  let sum = 0;
  let max = 0;
  return {
    add(at: number, amount: number) {
      times.push(at);
      amounts.push(amount);
      sum += amount;
      while (times[head]! <= at - windowMs) {
        sum -= amounts[head]!;
        head += 1;
      }
      if (head > 4096) {
        times.splice(0, head);
        amounts.splice(0, head);
        head = 0;
      }
      if (sum > max) max = sum;
    },
    get max() {
      return max;
    },
  };
}

export async function startFastDcs(options: { delayMs?: number; inletId?: string } = {}): Promise<FastDcs> {
  const inletId = options.inletId ?? 'bench-inlet';
  let delayMs = options.delayMs ?? 0;
  let failStatus: number | undefined;
  let counters = fresh();
  let xaction = 0;

  function fresh() {
    return {
      requests: 0,
      messages: 0,
      maxRequestBytes: 0,
      overLimit: 0,
      firstMessageAt: undefined as number | undefined,
      lastMessageAt: undefined as number | undefined,
      requestWindow: slidingMax(1000),
      messageWindow: slidingMax(1000),
      // Arrival time of every 1,000th message, to find when a given share of a backlog had arrived.
      milestones: [] as number[],
    };
  }

  const answer = (res: http.ServerResponse, count: number) => {
    const parts = new Array<string>(count);
    for (let i = 0; i < count; i += 1) parts[i] = `{"xactionId":"${++xaction}-${inletId}"}`;
    const text = `{"inletId":"${inletId}","batchId":"b${xaction}","receivedTimeMs":${Date.now()},"responses":[${parts.join(',')}]}`;
    res.writeHead(207, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/collection/batch/')) {
        res.writeHead(404).end();
        return;
      }
      if (failStatus !== undefined) {
        res.writeHead(failStatus, { 'content-type': 'application/json' }).end('{"title":"Service Unavailable"}');
        return;
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
      let count = 0;
      for (let at = body.indexOf(MESSAGE_MARKER); at !== -1; at = body.indexOf(MESSAGE_MARKER, at + MESSAGE_MARKER.length)) count += 1;
      const now = Date.now();
      const c = counters;
      c.requests += 1;
      c.maxRequestBytes = Math.max(c.maxRequestBytes, bytes);
      c.requestWindow.add(now, 1);
      if (bytes > ADOBE_MAX_BYTES) {
        c.overLimit += 1;
        res.writeHead(413, { 'content-type': 'application/json' }).end('{"title":"Request Entity Too Large"}');
        return;
      }
      const before = c.messages;
      c.messages += count;
      c.messageWindow.add(now, count);
      if (count > 0) {
        c.firstMessageAt ??= now;
        c.lastMessageAt = now;
        for (let m = Math.floor(before / 1000) + 1; m <= Math.floor(c.messages / 1000); m += 1) c.milestones[m] = now;
      }
      if (delayMs > 0) setTimeout(answer, delayMs, res, count);
      else answer(res, count);
    });
  });
  server.keepAliveTimeout = 65_000;
  const { listen, stop } = stoppable(server);

  const port = await listen(0);
  return {
    port,
    inletUrl: `http://127.0.0.1:${port}/collection/${inletId}`,
    stats: () => ({
      requests: counters.requests,
      messages: counters.messages,
      maxRequestBytes: counters.maxRequestBytes,
      maxRequestsPerSecond: counters.requestWindow.max,
      maxMessagesPerSecond: counters.messageWindow.max,
      firstMessageAt: counters.firstMessageAt,
      lastMessageAt: counters.lastMessageAt,
      overLimit: counters.overLimit,
    }),
    reset() {
      counters = fresh();
    },
    timeOfMessage(n) {
      if (n > counters.messages) return undefined;
      return counters.milestones[Math.ceil(n / 1000)] ?? counters.lastMessageAt;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    failWith(status) {
      failStatus = status;
    },
    outage: stop,
    async restore() {
      if (!server.listening) await listen(port);
    },
    close: stop,
  };
}

export interface FastIms {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  close(): Promise<void>;
}

/** IMS v3: `expires_in` in seconds, an opaque token (the relay then trusts `expires_in`). */
export async function startFastIms(): Promise<FastIms> {
  const clientId = 'bench-client';
  const clientSecret = 'bench-secret-not-logged';
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const text = JSON.stringify({ access_token: `bench-token-${Date.now()}`, token_type: 'bearer', expires_in: 86_399 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    url: `http://127.0.0.1:${port}/ims/token/v3`,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
