import type { Registry } from 'prom-client';

type Labels = Record<string, string>;
const matches = (have: Record<string, unknown>, want: Labels) => Object.entries(want).every(([k, v]) => String(have[k]) === v);

/**
 * A metric's value from a prom-client registry: the sum over the series whose labels include
 * `labels` (0 when none). Histograms: pass `${name}_count` or `${name}_sum`. Throws for a metric
 * the registry does not have, so `toBe(0)` cannot pass on a renamed or misspelt metric.
 */
export async function metricValue(registry: Registry, name: string, labels: Labels = {}): Promise<number> {
  const suffix = /_(count|sum)$/.exec(name)?.[1];
  const base = suffix ? name.slice(0, -suffix.length - 1) : name;
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === base || m.name === name);
  if (!metric) throw new Error(`no metric ${name} in the registry`);
  const wanted = suffix && metric.name === base ? `${base}_${suffix}` : undefined;
  return metric.values
    .filter((v) => (wanted ? (v as { metricName?: string }).metricName === wanted : !(v as { metricName?: string }).metricName || (v as { metricName?: string }).metricName === name))
    .filter((v) => matches(v.labels, labels))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The same from Prometheus text (a /metrics scrape of a separate process). undefined when absent. */
export function scrapedValue(text: string, name: string, labels: Labels = {}): number | undefined {
  let found: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (!matches(have, labels)) continue;
    found = (found ?? 0) + Number(m[3]);
  }
  return found;
}
