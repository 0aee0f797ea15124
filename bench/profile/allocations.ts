/**
 * `npm run bench:allocations`: what the relay's event loop allocates per webhook, by function, under
 * the pinned ingest of bench:intake (the relay on core 0, wrk on core 1, delivery to the fast fake
 * Adobe). V8's sampling heap profiler is started through the inspector with the objects the young and
 * old generation collectors free kept in the samples, so the figure is every allocation (garbage
 * included), not what is still alive at the end (`node --heap-prof` reports only that). Garbage is
 * what the GC's share of the CPU pays for: this is how to find it.
 *
 *   npm run bench:allocations -- [--seconds=5] [--top=25] [--relay-env=NAME=VALUE,...]
 *   (--relay-env=CAPILLARY_ORG_IDS=1: every webhook held, the intake alone)
 */
import { makePlan, startContext } from '../context.js';
import { relayEnv, relayEnvArgument, setRelayEnvOverrides, startRelay } from '../harness/processes.js';
import { LOAD_CPU, SERVER_CPU, canPin, pin } from '../harness/pinning.js';
import { acceptedSoFar, sleep } from '../harness/stats.js';
import { runWrk, wrkPath } from '../load/wrk.js';
import { freePort } from '../../support/postgres-server.js';

interface HeapNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children: HeapNode[];
}
interface SamplingProfile {
  head: HeapNode;
  samples: { size: number; nodeId: number }[];
}

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(arg('seconds') ?? 5);
const top = Number(arg('top') ?? 25);

/** One inspector session over the WebSocket the relay's `--inspect` opened (Node 24's own WebSocket). */
async function inspector(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let nextId = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (e) => {
    const message = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  return {
    send: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        nextId += 1;
        waiting.set(nextId, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id: nextId, method, params }));
      }),
    close: () => socket.close(),
  };
}

const where = (node: HeapNode) => {
  const url = node.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
  return `${node.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${node.callFrame.lineNumber + 1}` : ''}`;
};

/** Bytes by function: allocated in it (self), and in it or what it called (inclusive). */
function byFunction(profile: SamplingProfile) {
  const stacks = new Map<number, HeapNode[]>();
  const walk = (node: HeapNode, stack: HeapNode[]) => {
    const path = [...stack, node];
    stacks.set(node.id, path);
    for (const child of node.children) walk(child, path);
  };
  walk(profile.head, []);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const sample of profile.samples) {
    const path = stacks.get(sample.nodeId);
    if (!path) continue;
    total += sample.size;
    const leaf = where(path.at(-1)!);
    self.set(leaf, (self.get(leaf) ?? 0) + sample.size);
    for (const name of new Set(path.map(where))) inclusive.set(name, (inclusive.get(name) ?? 0) + sample.size);
  }
  return { total, self, inclusive };
}

async function main() {
  setRelayEnvOverrides(relayEnvArgument(process.argv));
  const wrk = wrkPath();
  if (!wrk) throw new Error('bench: wrk is not installed');
  const log = (m: string) => process.stdout.write(`${m}\n`);
  const { ctx, close } = await startContext(makePlan(true, false), wrk, () => undefined);
  const port = await freePort();
  const relay = await startRelay(relayEnv({ dir: ctx.freshDir('allocations'), dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims }), [`--inspect=127.0.0.1:${port}`]);
  const pinned = canPin();
  if (pinned) {
    pin(relay.pid, String(SERVER_CPU));
    pin(process.pid, String(LOAD_CPU));
  }
  const load = (tag: string, s: number) =>
    runWrk(ctx.wrk, { url: relay.url, script: ctx.wrkScript, prefix: `alloc${Date.now()}${tag}`, seconds: s, connections: 32, threads: 1, ...(pinned ? { cpu: LOAD_CPU } : {}) });
  try {
    await load('w', 2);
    const session = await inspector(port);
    await session.send('HeapProfiler.enable');
    // Sampled about every 8 KB allocated; the collectors' frees are kept in the samples.
    await session.send('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const before = await acceptedSoFar(relay.opsUrl);
    await load('m', seconds);
    const { profile } = await session.send<{ profile: SamplingProfile }>('HeapProfiler.stopSampling');
    // Scraping /metrics allocates too, outside the window: read the count after the profile stops.
    await sleep(200);
    const webhooks = (await acceptedSoFar(relay.opsUrl)) - before;
    session.close();
    const { total, self, inclusive } = byFunction(profile);
    const kb = (bytes: number) => `${(bytes / webhooks / 1024).toFixed(2).padStart(6)} KB`;
    log(`${webhooks} webhooks${pinned ? ' (relay pinned to one core)' : ''}: the event loop allocated ${kb(total)} per webhook`);
    log('\nallocated in the function itself, per webhook:');
    for (const [name, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) log(`${kb(bytes)}  ${name}`);
    log('\nallocated in the function or what it called, per webhook:');
    for (const [name, bytes] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) log(`${kb(bytes)}  ${name}`);
  } finally {
    await relay.stop();
    await close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
