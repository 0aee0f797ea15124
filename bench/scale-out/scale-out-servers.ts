/**
 * Processes and fakes for the scale-out benchmark (bench/scale-out/scale-out.ts): relay replicas as real
 * processes, and a fast fake Adobe (IMS token + DCS batch inlet that counts every message and every
 * ExperienceEvent `_id`, so a message sent by both replicas shows).
 */
import http from 'node:http';
import { join } from 'node:path';
import { relayListening } from '../../support/listening-process.js';
import { relayNodeFlags, relayStartEnv } from '../../support/relay-node-flags.js';
import { ROOT } from '../../support/repo-root.js';
import { stoppable } from '../../support/stoppable-server.js';
import { baseRelayEnv, startServer, type ServerProcess } from '../harness/processes.js';

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
  const { listen, stop } = stoppable(server);
  const origin = `http://127.0.0.1:${await listen(0)}`;
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
    close: stop,
  };
}

// ------------------------------------------------------------------ relay replicas

/** A replica: the relay as a process of its own (bench/harness/processes.ts). */
export type Replica = ServerProcess;

/** The relay's settings here: production defaults, except Adobe's per-process caps lifted (see SCALE-OUT.md). */
export function relayEnv(storeUrl: string, adobe: FakeAdobe, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...baseRelayEnv({ storeUrl, dcsInletUrl: adobe.inletUrl, ims: { url: adobe.imsUrl, clientId: 'bench-client', clientSecret: 'bench-client-secret' } }),
    AEP_MAX_REQUESTS_PER_SECOND: '100000',
    AEP_MAX_MESSAGES_PER_SECOND: '1000000',
    ...extra,
  };
}

/**
 * `node dist/src/server.js` of `root` (another checkout's build, to compare two versions side by
 * side), from `root`, as that checkout's `npm start` runs it (the environment and Node flags of its
 * start script). Resolves once it logs that it listens.
 */
export function startReplica(env: Record<string, string>, root = ROOT): Promise<Replica> {
  return startServer('relay', join(root, 'dist', 'src', 'server.js'), { ...relayStartEnv(root), ...env }, { nodeArgs: relayNodeFlags(root), ready: relayListening, cwd: root });
}
