import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../support/repo-root.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'capillary');

/**
 * Capillary's documented webhook samples (one per common event, 0.7-1.2 KB), each split around its
 * eventId so every request can carry a unique id: body = before + id + after.
 */
export interface SampleTemplate {
  name: string;
  before: string;
  after: string;
}

export function loadSamples(): SampleTemplate[] {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
  const samples = files.map((file) => {
    // One line per body, as a webhook sender would send it.
    const text = JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')));
    const match = /"eventId":"[^"]*"/.exec(text);
    if (!match) throw new Error(`bench: ${file} has no string eventId`);
    const start = match.index + '"eventId":"'.length;
    const end = match.index + match[0].length - 1; // the closing quote
    return { name: file.replace(/\.json$/, ''), before: text.slice(0, start), after: text.slice(end) };
  });
  if (samples.length === 0) throw new Error(`bench: no samples in ${FIXTURES}`);
  return samples;
}

export function bodyOf(samples: SampleTemplate[], n: number, id: string): string {
  const s = samples[n % samples.length]!;
  return s.before + id + s.after;
}

export const AUTH_SECRET = 'bench-webhook-secret';
export const WEBHOOK_PATH = '/webhooks/capillary';
