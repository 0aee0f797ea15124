import type { Histogram } from 'prom-client';

/**
 * Samples how late the event loop runs a timer, every `intervalMs`, into a histogram. A histogram
 * rather than prom-client's nodejs_eventloop_lag_p99_seconds (also exposed): those percentiles are
 * reset by every scrape, so two Prometheus servers each see half, and they cannot be summed over
 * replicas or taken over a window; bucket counts can (histogram_quantile over rate()). A stall of
 * the loop (a long SQLite statement, a big JSON parse) delays webhooks and /healthz alike.
 */
export function sampleEventLoopDelay(histogram: Histogram, intervalMs = 100): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    const due = performance.now() + intervalMs;
    timer = setTimeout(() => {
      histogram.observe(Math.max(0, performance.now() - due) / 1000);
      if (!stopped) schedule();
    }, intervalMs);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
