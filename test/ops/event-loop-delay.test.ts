import { describe, expect, it } from 'vitest';
import { sampleEventLoopDelay } from '../../src/ops/event-loop-delay.js';
import { createMetrics } from '../../src/metrics.js';
import { metricValue } from '../helpers/metric-values.js';
import { waitFor } from '../helpers/wait-for.js';

describe('event-loop delay metric', () => {
  it('records a stall of the loop as a late timer, in the histogram the alert reads', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const sampler = sampleEventLoopDelay(metrics.eventLoopDelay, 20);
    try {
      await waitFor(async () => (await metricValue(metrics.registry, 'relay_event_loop_delay_seconds_count')) >= 2, { what: 'timer samples' });
      const busyUntil = performance.now() + 300;
      while (performance.now() < busyUntil); // the stall: nothing else runs meanwhile
      await waitFor(async () => (await metricValue(metrics.registry, 'relay_event_loop_delay_seconds_sum')) >= 0.25, { what: 'the stall observed' });
    } finally {
      sampler.stop();
    }
  });

  it("also exposes prom-client's own event-loop lag gauges with the default metrics", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
    expect(text).toMatch(/^# TYPE relay_event_loop_delay_seconds histogram$/m);
  });
});
