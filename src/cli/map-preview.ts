import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { normalizeEnvelope } from '../ingest/envelope.js';
import { mapEvent } from '../mapping/map-event.js';

/**
 * `npm run map -- path/to/event.json [more.json ...]` (or `-` for standard input): prints the DCS
 * messages the relay would send for a saved webhook body, using the same settings as the server
 * (AEP_*, IDENTITY_*, XDM_LEGACY_LOYALTY_SCHEMA from the environment). Nothing is stored or sent.
 */
function main(argv: string[]): number {
  const files = argv.filter((a) => a !== '--');
  if (files.length === 0 || files.includes('--help')) {
    process.stderr.write('usage: npm run map -- <webhook-body.json> [...]   (use - for standard input)\n');
    return files.length === 0 ? 64 : 0;
  }
  let mapping;
  try {
    // The preview serves nothing, so it needs no webhook secret.
    mapping = loadConfig({ CAPILLARY_AUTH_DISABLED: 'true', ...process.env }).mapping;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      return 78;
    }
    throw error;
  }
  let status = 0;
  for (const file of files) {
    let body: unknown;
    try {
      body = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
    } catch (error) {
      process.stderr.write(`${file}: not readable JSON (${(error as Error).message})\n`);
      status = 1;
      continue;
    }
    const normalized = normalizeEnvelope(body, Date.now());
    if (!normalized.ok) {
      process.stderr.write(`${file}: ${normalized.message} (the relay would answer 400)\n`);
      status = 2;
      continue;
    }
    const { event } = normalized;
    const result = mapEvent(event, mapping);
    const preview = {
      file,
      eventId: event.eventId,
      eventName: event.eventName,
      envelope: event.envelope,
      status: result.status,
      warnings: result.warnings,
      messages: result.messages.map((m) => ({ kind: m.kind, ...(m.profileKey ? { profileKey: m.profileKey } : {}), message: m.message })),
    };
    process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
  }
  return status;
}

process.exitCode = main(process.argv.slice(2));
