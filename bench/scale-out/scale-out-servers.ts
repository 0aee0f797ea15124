/**
 * Processes and fakes for the scale-out benchmark (bench/scale-out/scale-out.ts): relay replicas as real
 * processes, and a fast fake Adobe (IMS token + DCS batch inlet that counts every message and every
 * ExperienceEvent `_id`, so a message sent by both replicas shows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../../support/repo-root.js';
import { AUTH_SECRET } from '../load/samples.js';

// ------------------------------------------------------------------ fake Adobe

export interface FakeAdobe {
  imsUrl: string;
  inletUrl: string;
  messages(): number;
  /** ExperienceEvent ids taken more than once since reset(). */
  duplicates(): number;
  firstAt(): number | undefined;
  lastAt(): number | undefined;
  reset(): void;
  close(): Promise<void>;
}

const ID = /"_id":"([^"]*)"/g;
const MARKER = '"xdmMeta":';

export async function startFakeAdobe(): Promise<FakeAdobe> {
  let messages = 0;
  let first: number | undefined;
  let last: number | undefined;
  let ids = new Map<string, number>();
  let duplicates = 0;
  let xaction = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/ims/')) {
        const text = JSON.stringify({ access_token: `bench-token-${Date.now()}`, token_type: 'bearer', expires_in: 86_399 });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        return res.end(text);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      let count = 0;
      for (let at = body.indexOf(MARKER); at !== -1; at = body.indexOf(MARKER, at + MARKER.length)) count += 1;
      for (const match of body.matchAll(ID)) {
        const n = (ids.get(match[1]!) ?? 0) + 1;
        ids.set(match[1]!, n);
        if (n === 2) duplicates += 1;
      }
      const now = Date.now();
      if (count > 0) {
        first ??= now;
        last = now;
        messages += count;
      }
      const parts = Array.from({ length: count }, () => `{"xactionId":"x${(xaction += 1)}"}`);
      const text = `{"inletId":"bench-inlet","batchId":"b${xaction}","receivedTimeMs":${now},"responses":[${parts.join(',')}]}`;
      res.writeHead(207, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    imsUrl: `${origin}/ims/token/v3`,
    inletUrl: `${origin}/collection/bench-inlet`,
    messages: () => messages,
    duplicates: () => duplicates,
    firstAt: () => first,
    lastAt: () => last,
    reset() {
      messages = 0;
      first = undefined;
      last = undefined;
      ids = new Map();
      duplicates = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ------------------------------------------------------------------ relay replicas

export interface Replica {
  pid: number;
  port: number;
  url: string;
  /** The operations listener (/metrics). */
  opsUrl: string;
  logs: string[];
  stop(): Promise<void>;
}

/** The relay's settings here: production defaults, except Adobe's per-process caps lifted (see SCALE-OUT.md). */
export function relayEnv(storeUrl: string, adobe: FakeAdobe, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    OPS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CAPILLARY_AUTH_SECRETS: AUTH_SECRET,
    STORE_URL: storeUrl,
    AEP_INLET_URL: adobe.inletUrl,
    AEP_FLOW_ID: 'bench-flow',
    AEP_EVENT_DATASET_ID: 'bench-event-dataset',
    AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/bench/schemas/experience-event',
    ADOBE_ORG_ID: 'BENCH0000000000000000000@AdobeOrg',
    ADOBE_IMS_URL: adobe.imsUrl,
    ADOBE_CLIENT_ID: 'bench-client',
    ADOBE_CLIENT_SECRET: 'bench-client-secret',
    AEP_MAX_REQUESTS_PER_SECOND: '100000',
    AEP_MAX_MESSAGES_PER_SECOND: '1000000',
    ...extra,
  };
}

/**
 * `node dist/src/server.js` (what `npm start` runs) of `root` (another checkout's build, to compare two
 * versions side by side); resolves once it logs that it listens.
 */
export function startReplica(env: Record<string, string>, root = ROOT): Promise<Replica> {
  const child: ChildProcess = spawn(process.execPath, [join(root, 'dist', 'src', 'server.js')], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<Replica>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench: relay did not start:\n${logs.slice(-20).join('\n')}`)), 30_000);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        if (logs.length > 300) logs.shift();
        if (!line.includes('relay listening')) continue;
        const { port, opsPort } = JSON.parse(line) as { port?: number; opsPort?: number | string };
        if (typeof port !== 'number') continue;
        clearTimeout(timer);
        resolve({
          pid: child.pid!,
          port,
          url: `http://127.0.0.1:${port}`,
          opsUrl: `http://127.0.0.1:${typeof opsPort === 'number' ? opsPort : port}`,
          logs,
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.kill('SIGTERM');
            await exited;
            clearTimeout(kill);
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`bench: relay exited before listening:\n${logs.slice(-20).join('\n')}`));
    });
  });
}

/** Webhooks this replica accepted, from its /metrics (shows how the load was split). */
export async function acceptedBy(replica: Replica): Promise<number> {
  const res = await fetch(`${replica.opsUrl}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('relay_webhooks_received_total{') && line.includes('outcome="accepted"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
