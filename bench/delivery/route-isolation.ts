/**
 * npm run bench:route-isolation — issue 13's isolation figure: route B's delivery latency (posting the
 * webhook to B's fake Adobe answering the request that carried the event), one event at a time, with
 * route A's Adobe up and idle, then with A's Adobe answering 503 to everything and a backlog of
 * BACKLOG events on A. A's retry pauses are short (10 ms base, 200 ms cap, circuit 200 ms) so its
 * failing backlog keeps its worker busy throughout: the worst case for B. In process, SQLite unless
 * STORE_URL is given (e.g. a PostgreSQL URL).
 */
import { fillBacklog, percentile, probeLatencies, startTwoBrands } from '../../test/helpers/route-isolation.js';

const BACKLOG = Number(process.env['ISOLATION_BACKLOG'] ?? 10_000);
const PROBES = Number(process.env['ISOLATION_PROBES'] ?? 300);
const processEnv = { DELIVERY_RETRY_BASE_MS: '10', DELIVERY_RETRY_MAX_MS: '200', ...(process.env['STORE_URL'] ? { STORE_URL: process.env['STORE_URL'] } : {}) };
const routeEnv = { CIRCUIT_OPEN_MS: '200' };

const summary = (latencies: number[]) => ({ median: percentile(latencies, 50).toFixed(1), p99: percentile(latencies, 99).toFixed(1), max: Math.max(...latencies).toFixed(1) });

async function scenario(name: string, aDown: boolean) {
  const brands = await startTwoBrands(processEnv, routeEnv);
  try {
    // A first warm-up probe: B's token and connection, as on a relay that has been running.
    await probeLatencies(brands, 5, `${name}-warmup`);
    if (aDown) {
      brands.a.dcs.setFault({ kind: 'status', status: 503 });
      const started = performance.now();
      await fillBacklog(brands, 'brand-a', BACKLOG);
      console.log(`  ${BACKLOG} events accepted on A in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      await brands.a.dcs.waitFor((d) => (d.counters.byStatus['503'] ?? 0) >= 1);
    }
    const before503 = brands.a.dcs.counters.byStatus['503'] ?? 0;
    const latencies = await probeLatencies(brands, PROBES, name);
    const during503 = (brands.a.dcs.counters.byStatus['503'] ?? 0) - before503;
    const result = { scenario: name, probes: PROBES, ...summary(latencies), aAccepted: brands.a.dcs.counters.accepted, aRequestsRefusedDuringProbes: during503 };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await brands.close();
  }
}

console.log(`route isolation: B's delivery latency in ms (${PROBES} probes, one at a time)`);
const up = await scenario('a-up-idle', false);
const down = await scenario(`a-down-backlog-${BACKLOG}`, true);
console.log(`\n| route A | B median | B p99 |\n|---|---|---|\n| up, no backlog | ${up.median} ms | ${up.p99} ms |\n| 503 to everything, ${BACKLOG} queued | ${down.median} ms | ${down.p99} ms |`);
