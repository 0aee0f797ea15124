import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from './build-app.js';
import { startFakeDcs, type FakeDcs } from './fake-dcs.js';
import { startFakeIms, type FakeIms } from './fake-ims.js';
import { sampleWithId } from './samples.js';

/**
 * Two brands on one relay, each with its own fake Adobe (IMS and DCS): route A (org 51186) and route
 * B (org 50614). Used by test/routes/isolation.test.ts and bench/delivery/route-isolation.ts (issue 13: route
 * A's Adobe down with a backlog does not change route B's delivery latency).
 */
export interface Brand {
  ims: FakeIms;
  dcs: FakeDcs;
  secret: string;
  org: number;
}

export interface TwoBrands {
  t: TestApp;
  a: Brand;
  b: Brand;
  /** POSTs one event to `route`, resolving with the HTTP status once answered. */
  post(route: 'brand-a' | 'brand-b', eventId: string): Promise<number>;
  close(): Promise<void>;
}

async function startBrand(name: string, org: number): Promise<Brand> {
  const ims = await startFakeIms({ clientId: `${name}-client`, clientSecret: `${name}-adobe-secret-xyz` });
  const dcs = await startFakeDcs({ ims });
  return { ims, dcs, secret: `${name}-webhook-secret-0001`, org };
}

/** `env`: process settings; `routeSettings`: added to both routes of the file (e.g. CIRCUIT_OPEN_MS). */
export async function startTwoBrands(env: Record<string, string> = {}, routeSettings: Record<string, string> = {}): Promise<TwoBrands> {
  const a = await startBrand('brand-a', 51186);
  const b = await startBrand('brand-b', 50614);
  const dir = mkdtempSync(join(tmpdir(), 'relay-isolation-'));
  const route = (id: string, brand: Brand) => {
    writeFileSync(join(dir, `${id}-webhook`), brand.secret);
    writeFileSync(join(dir, `${id}-adobe`), brand.ims.clientSecret);
    return `  ${id}:
    CAPILLARY_ORG_IDS: "${brand.org}"
    CAPILLARY_AUTH_SECRETS_FILE: ${join(dir, `${id}-webhook`)}
    ADOBE_CLIENT_ID: ${brand.ims.clientId}
    ADOBE_CLIENT_SECRET_FILE: ${join(dir, `${id}-adobe`)}
    ADOBE_IMS_URL: ${brand.ims.urls.v3}
    AEP_INLET_URL: ${brand.dcs.inletUrl(`inlet-${id}`)}
    AEP_EVENT_DATASET_ID: dataset-${id}
    AEP_EVENT_SCHEMA_ID: https://ns.adobe.com/${id}/schemas/event
${Object.entries(routeSettings).map(([k, v]) => `    ${k}: "${v}"\n`).join('')}`;
  };
  writeFileSync(join(dir, 'routes.yaml'), `routes:\n${route('brand-a', a)}${route('brand-b', b)}`);
  const t = await buildTestApp({ CAPILLARY_AUTH_SECRETS: '', DRY_RUN_FILE: '', ROUTES_FILE: join(dir, 'routes.yaml'), LOG_LEVEL: 'error', ...env });
  const post = async (routeId: 'brand-a' | 'brand-b', eventId: string) => {
    const brand = routeId === 'brand-a' ? a : b;
    const body = { ...sampleWithId('points-issued', eventId), orgId: brand.org };
    const res = await t.app.inject({ method: 'POST', url: `/webhooks/capillary/${routeId}`, headers: { authorization: brand.secret, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return res.statusCode;
  };
  return {
    t,
    a,
    b,
    post,
    async close() {
      await t.close();
      for (const brand of [a, b]) {
        await brand.dcs.close();
        await brand.ims.close();
      }
    },
  };
}

/** Accepts `count` events on `route`, `concurrency` at a time; throws on any answer but 202. */
export async function fillBacklog(brands: TwoBrands, route: 'brand-a' | 'brand-b', count: number, concurrency = 50): Promise<void> {
  for (let start = 0; start < count; start += concurrency) {
    const statuses = await Promise.all(Array.from({ length: Math.min(concurrency, count - start) }, (_, i) => brands.post(route, `backlog-${route}-${start + i}`)));
    const refused = statuses.find((s) => s !== 202);
    if (refused !== undefined) throw new Error(`backlog event refused with ${refused}`);
  }
}

/**
 * Route B's delivery latency, one probe event at a time: from posting the webhook (the relay stores
 * it, answers 202 and delivers it, often before the 202 is read) to B's fake Adobe having answered
 * the request that carried it. Milliseconds, in probe order.
 */
export async function probeLatencies(brands: TwoBrands, probes: number, tag: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < probes; i += 1) {
    const eventId = `probe-${tag}-${i}`;
    const sent = performance.now();
    const status = await brands.post('brand-b', eventId);
    if (status !== 202) throw new Error(`probe refused with ${status}`);
    await brands.b.dcs.waitFor((d) => d.idCounts.has(eventId), 30_000);
    latencies.push(performance.now() - sent);
  }
  return latencies;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
