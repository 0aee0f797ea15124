import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/metric-values.js';
import { fillBacklog, percentile, probeLatencies, startTwoBrands, type TwoBrands } from '../helpers/route-isolation.js';

/**
 * Issue 13, isolation: route A's Adobe down with a backlog does not hold up route B. The figure with
 * a backlog of 10,000 (and against A up) is measured by `npm run bench:route-isolation` and
 * published in docs/scaling.md ("Several brands"); this is the same run, smaller, as a test.
 */
const BACKLOG = 2_000;
const PROBES = 50;

describe("routes: one brand's outage and backlog do not delay another's delivery", () => {
  let brands: TwoBrands;

  beforeEach(async () => {
    // Short pauses so A's failing backlog keeps its worker busy (claims, 503s, settles) throughout.
    brands = await startTwoBrands({ DELIVERY_RETRY_BASE_MS: '10', DELIVERY_RETRY_MAX_MS: '200' }, { CIRCUIT_OPEN_MS: '200' });
  });

  afterEach(async () => {
    await brands.close();
  });

  it(`delivers all of B's events while A's ${BACKLOG} stay held back, then A's drain once A is up`, async () => {
    const { a, b, t } = brands;
    a.dcs.setFault({ kind: 'status', status: 503 });
    await fillBacklog(brands, 'brand-a', BACKLOG);
    // A's worker is trying and failing (not idle) while B is measured.
    await a.dcs.waitFor((d) => (d.counters.byStatus['503'] ?? 0) >= 1);

    const latencies = await probeLatencies(brands, PROBES, 'a-down');
    const requestsToADuringProbes = a.dcs.counters.requests;

    expect([...b.dcs.idCounts.keys()].filter((id) => id.startsWith('probe-')).length).toBe(PROBES);
    expect(b.dcs.requests.every((r) => r.inletId === 'inlet-brand-b')).toBe(true);
    expect(a.dcs.counters.accepted).toBe(0);
    expect(await metricValue(t.app.metrics.registry, 'relay_messages_delivered_total', { route: 'brand-a' })).toBe(0);
    expect(requestsToADuringProbes).toBeGreaterThan(0);
    // Not a performance assertion: B's events wait milliseconds; 2 s would mean A's backlog is in B's way.
    expect(percentile(latencies, 99)).toBeLessThan(2_000);

    // Nothing of A's was lost: once its Adobe answers, the whole backlog arrives there, and only there.
    a.dcs.setFault(null);
    await a.dcs.waitFor((d) => d.idCounts.size >= BACKLOG, 60_000);
    expect([...a.dcs.idCounts.keys()].every((id) => id.startsWith('backlog-brand-a-'))).toBe(true);
    expect([...b.dcs.idCounts.keys()].some((id) => id.startsWith('backlog-'))).toBe(false);
  }, 120_000);
});
