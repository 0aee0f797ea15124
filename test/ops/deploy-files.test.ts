import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { scrapedValue } from '../helpers/metric-values.js';
import { sampleWithId } from '../helpers/samples.js';

/**
 * The alert rules and the dashboard are only as good as the metric names in their queries: a typo or
 * a renamed metric makes an alert that never fires. Every query here must parse as PromQL (Prometheus's
 * own grammar) and name only metrics the relay really exposes.
 */

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Series Prometheus makes itself, not the relay: allowed in queries (see docs/runbook.md). */
const PROMETHEUS_SERIES = new Set(['up']);

let t: TestApp;
/** Every sample name the relay can expose: histograms expand to _bucket, _sum and _count. */
const exposed = new Set<string>();
/** The relay's own metric families (`relay_*`) and their types, from the `# TYPE` lines. */
const relayFamilies = new Map<string, string>();
let scrape = '';

beforeAll(async () => {
  t = await buildTestApp();
  const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: JSON.stringify(sampleWithId('points-issued', 'deploy-files-1')) });
  expect(res.statusCode).toBe(202);
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  scrape = text;
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed) {
      const [, name, type] = typed as unknown as [string, string, string];
      exposed.add(name);
      if (name.startsWith('relay_')) relayFamilies.set(name, type);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(name + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) exposed.add(name + suffix);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) exposed.add(sample[1]!);
  }
});

afterAll(async () => {
  await t?.close();
});

/** Metric names a PromQL query selects, and whether it parsed without error. */
function metricNames(query: string): { names: string[]; errors: string[] } {
  // Grafana's built-in interval variables are not PromQL; they stand for a duration.
  const promql = query.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
  const tree = parser.parse(promql);
  const names: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`${node.from}: ${JSON.stringify(promql.slice(Math.max(0, node.from - 20), node.to + 20))}`);
      if (node.type.name === 'Identifier' && node.node.parent?.type.name === 'VectorSelector') names.push(promql.slice(node.from, node.to));
    },
  });
  return { names, errors };
}

function expectKnownMetrics(where: string, query: string): string[] {
  const { names, errors } = metricNames(query);
  expect(errors, `${where}: does not parse as PromQL`).toEqual([]);
  expect(names.length, `${where}: selects no metric`).toBeGreaterThan(0);
  for (const name of names) expect(exposed.has(name) || PROMETHEUS_SERIES.has(name), `${where}: ${name} is not a metric the relay exposes`).toBe(true);
  return names;
}

describe('the metric-name check itself', () => {
  it('sees the relay metrics and flags unknown names and syntax errors', () => {
    expect(exposed.has('relay_webhooks_received_total')).toBe(true);
    expect(exposed.has('relay_event_delivery_latency_seconds_bucket')).toBe(true);
    expect(exposed.has('relay_ims_token_requests_total')).toBe(true);
    // At 0 before any event is held (a series per route), so the held alert's increase() sees the first.
    expect(scrapedValue(scrape, 'relay_events_held_total', { route: 'default' })).toBe(0);
    expect(metricNames('sum by (le) (rate(relay_nope_total{job="x"}[5m])) > 0 or up == 0').names).toEqual(['relay_nope_total', 'up']);
    expect(metricNames('rate(relay_queue_pending[5m]').errors).not.toEqual([]);
  });
});

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('deploy/prometheus-alerts.yml', () => {
  const file = parse(read('deploy/prometheus-alerts.yml')) as { groups: { name: string; rules: Rule[] }[] };
  const rules = file.groups.flatMap((g) => g.rules);
  const runbook = read('docs/runbook.md');

  it('has the alerts operators are promised', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'RelayAdobeErrorRatioHigh',
        'RelayCircuitOpen',
        'RelayDeadLettersGrowing',
        'RelayEventLoopStalled',
        'RelayHeapNearLimit',
        'RelayImsTokenRefreshFailing',
        'RelayNotReady',
        'RelayOldestPendingTooOld',
        'RelayEventsHeld',
        'RelayCapillaryGaveUp',
        'RelayRejectedAfterAcceptance',
        'RelayLandedShort',
        'RelayAccountingStale',
        'RelaySchemaFallback',
      ].sort(),
    );
  });

  it('gives every alert a valid query on exposed metrics, a severity, a summary and a runbook section', () => {
    const anchors = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    for (const rule of rules) {
      const name = rule.alert!;
      expectKnownMetrics(name, rule.expr ?? '');
      if (rule.for !== undefined) expect(rule.for, name).toMatch(/^\d+[smh]$/);
      expect(rule.labels?.['severity'], name).toMatch(/^(page|ticket)$/);
      expect(rule.annotations?.['summary'], name).toBeTruthy();
      const url = rule.annotations?.['runbook_url'] ?? '';
      expect(url, name).toBe(`docs/runbook.md#${name.toLowerCase()}`);
      expect(anchors.has(name.toLowerCase()), `docs/runbook.md has no "## ${name}" section`).toBe(true);
    }
  });
});

interface Panel {
  type: string;
  title?: string;
  panels?: Panel[];
  targets?: { expr?: string }[];
}

describe('deploy/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(read('deploy/grafana-dashboard.json')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const queries = panels.flatMap((p) => (p.targets ?? []).map((target) => ({ where: p.title ?? p.type, expr: target.expr ?? '' })));

  it('queries only metrics the relay exposes, in valid PromQL', () => {
    expect(queries.length).toBeGreaterThan(10);
    for (const { where, expr } of queries) expectKnownMetrics(where, expr);
  });

  it('filters by the route variable every query on a metric that carries a route label (issue 13)', async () => {
    expect(dashboard.templating.list.map((v) => v.name)).toContain('route');
    const routed = new Set<string>();
    for (const metric of t.app.metrics.registry.getMetricsAsArray()) {
      const { name, labelNames = [], constructor } = metric as unknown as { name: string; labelNames?: string[]; constructor: { name: string } };
      if (!labelNames.includes('route')) continue;
      routed.add(name);
      if (constructor.name === 'Histogram') routed.add(`${name}_bucket`);
    }
    expect(routed.has('relay_events_held_total') && routed.has('relay_event_delivery_latency_seconds_bucket')).toBe(true);
    for (const { where, expr } of queries) {
      for (const name of metricNames(expr).names) {
        if (routed.has(name)) expect(expr, `${where}: ${name}`).toMatch(new RegExp(`${name}\\{[^}]*route=~"\\$route"`));
      }
    }
  });

  it('has a panel on each pinned metric operators watch', () => {
    const used = new Set(queries.flatMap(({ expr }) => metricNames(expr).names));
    for (const name of [
      'relay_webhooks_received_total',
      'relay_queue_pending',
      'relay_queue_oldest_pending_age_seconds',
      'relay_messages_delivered_total',
      'relay_event_delivery_latency_seconds_bucket',
      'relay_aep_requests_total',
      'relay_messages_dead_lettered_total',
      'relay_dead_letters',
      'relay_ims_token_expiry_seconds',
      'relay_aep_circuit_open',
      'relay_event_loop_delay_seconds_bucket',
      'relay_events_held_total',
      'relay_accounting_findings',
      'relay_accounting_last_success_timestamp_seconds',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });
});

describe('docs/operations.md', () => {
  it("lists every relay_* metric the relay exposes in its metrics table, with its type, and no other", () => {
    const operations = read('docs/operations.md');
    const section = /^### Metrics\n([\s\S]*?)(?=^#)/m.exec(operations)?.[1] ?? '';
    const rows = [...section.matchAll(/^\| `(relay_[a-z0-9_]+)` \| ([a-z]+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(relayFamilies.size).toBeGreaterThan(10);
    expect(rows.sort()).toEqual([...relayFamilies].map(([name, type]) => `${name} ${type}`).sort());
  });
});
