import { request } from 'undici';

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reads the relay's Prometheus text: the sum of every series of `name` whose labels contain `match`. */
export async function scrape(url: string): Promise<string> {
  const res = await request(`${url}/metrics`);
  return res.body.text();
}

export function metricSum(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (match && !rest.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Webhooks the relay has accepted since it started, from its /metrics. */
export async function acceptedSoFar(opsUrl: string): Promise<number> {
  return metricSum(await scrape(opsUrl), 'relay_webhooks_received_total', 'outcome="accepted"');
}

export async function queuePending(url: string): Promise<number | undefined> {
  try {
    return metricSum(await scrape(url), 'relay_queue_pending');
  } catch {
    return undefined;
  }
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; resolves whether it became true. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + ' ms' : 'n/a'),
  mb: (n: number) => (Number.isFinite(n) ? `${n.toFixed(0)} MB` : 'n/a'),
  x: (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a'),
  pct: (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(0)}%` : 'n/a'),
};
