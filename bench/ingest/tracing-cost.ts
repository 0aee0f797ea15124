/**
 * What tracing costs at ingest (issue 15): the relay with tracing off, with it on (exporting
 * http/protobuf to a local OTLP sink), and optionally a build of the code before tracing
 * (`--before=path/to/dist/src/server.js`), alternating A B C C B A so drift hits every side.
 * Short on purpose (about 2 minutes): `npm run build && node dist/bench/ingest/tracing-cost.js [--seconds=15]`.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFastDcs, startFastIms } from '../fakes/fake-adobe-fast.js';
import { relayEnv, startRelay, startRelayBuild, type ServerProcess } from '../harness/processes.js';
import { loadSamples } from '../load/samples.js';
import { median } from '../harness/stats.js';
import { runWrk, writeWrkScript, wrkPath, type WrkResult } from '../load/wrk.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const seconds = Number(arg('seconds') ?? 15);
const before = arg('before');

/** An OTLP/HTTP collector that accepts and discards, counting what it was sent. */
async function startOtlpSink() {
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ requests, bytes }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main() {
  const wrk = wrkPath();
  if (!wrk) throw new Error('bench: wrk not found (apt-get install wrk)');
  const work = mkdtempSync(join(tmpdir(), 'bench-tracing-'));
  const ims = await startFastIms();
  const dcs = await startFastDcs();
  const sink = await startOtlpSink();
  const script = writeWrkScript(work, loadSamples());
  type Side = 'before' | 'off' | 'on';
  const sides: Side[] = before ? ['before', 'off', 'on'] : ['off', 'on'];
  const order = [...sides, ...[...sides].reverse()];
  const results: Record<Side, WrkResult[]> = { before: [], off: [], on: [] };
  let run = 0;
  try {
    for (const side of order) {
      run += 1;
      const dir = join(work, `${side}-${run}`);
      const env = relayEnv({ dir, dcsInletUrl: dcs.inletUrl, ims, extra: side === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {} });
      const server: ServerProcess = side === 'before' ? await startRelayBuild(before!, env) : await startRelay(env);
      try {
        const load = (s: number) => runWrk(wrk, { url: server.url, script, prefix: `t${Date.now()}x${run}`, seconds: s, connections: 32, threads: 1 });
        await load(2);
        const result = await load(seconds);
        results[side].push(result);
        process.stdout.write(`${side.padEnd(6)} round ${run}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors}\n`);
      } finally {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await Promise.all([ims.close(), dcs.close(), sink.close()]);
    rmSync(work, { recursive: true, force: true });
  }
  const rps = (side: Side) => median(results[side].map((r) => r.rps));
  const p99 = (side: Side) => median(results[side].map((r) => r.p99Ms));
  const summary = {
    seconds,
    rps: Object.fromEntries(sides.map((s) => [s, Math.round(rps(s))])),
    p99Ms: Object.fromEntries(sides.map((s) => [s, Number(p99(s).toFixed(2))])),
    onOverOff: Number((rps('on') / rps('off')).toFixed(3)),
    ...(before ? { offOverBefore: Number((rps('off') / rps('before')).toFixed(3)) } : {}),
    otlpExports: sink.stats(),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

void main();
