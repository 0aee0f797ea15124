import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { normalizeEnvelope } from '../ingest/envelope.js';
import { routeOutput, type RouteOutput } from '../routes/route-output.js';

const USAGE = 'usage: npm run map -- [--route <routeId>] <webhook-body.json> [...]   (use - for standard input)\n';

/**
 * `npm run map -- [--route <id>] path/to/event.json [more.json ...]` (or `-` for standard input):
 * prints what the relay would send for a saved webhook body, using the same settings as the server.
 * Without `--route`, the environment's route (AEP_*, IDENTITY_*, XDM_LEGACY_LOYALTY_SCHEMA); with it,
 * that route of ROUTES_FILE: its output (`xdm`, `source` or `raw`) and its org check (an event of
 * another org shows as `held`, with no message). Nothing is stored or sent.
 */
function main(argv: string[]): number {
  const args = argv.filter((a) => a !== '--');
  const routeAt = args.indexOf('--route');
  const routeId = routeAt >= 0 ? args[routeAt + 1] : undefined;
  const files = routeAt >= 0 ? args.filter((_, i) => i !== routeAt && i !== routeAt + 1) : args;
  if (files.length === 0 || files.includes('--help') || (routeAt >= 0 && (!routeId || routeId.startsWith('-')))) {
    process.stderr.write(USAGE);
    return files.includes('--help') ? 0 : 64;
  }
  let route: RouteOutput;
  try {
    // The preview serves nothing, so it needs no webhook secret.
    const config = loadConfig({ CAPILLARY_AUTH_DISABLED: 'true', ...process.env });
    const chosen = routeId === undefined ? config.routes.find((r) => r.id === 'default') : config.routes.find((r) => r.id === routeId);
    if (!chosen) {
      const known = config.routes.map((r) => r.id).join(', ');
      process.stderr.write(routeId === undefined ? `ROUTES_FILE is set: give --route <routeId> (one of: ${known})\n` : `no route ${routeId} (routes: ${known})\n`);
      return 64;
    }
    route = routeOutput(chosen);
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
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
      body = JSON.parse(text);
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
    const held = !route.admits(event);
    const result = held ? { status: 'held' as const, warnings: [], messages: [] } : route.map(event, text);
    const preview = {
      file,
      ...(routeId !== undefined ? { route: routeId } : {}),
      eventId: event.eventId,
      eventName: event.eventName,
      envelope: event.envelope,
      status: result.status,
      warnings: result.warnings,
      // A source or raw payload is shown as the JSON it is sent as (raw: byte for byte in `payload`).
      messages: result.messages.map((m) => ({ kind: m.kind, ...(m.profileKey ? { profileKey: m.profileKey } : {}), message: 'payload' in m ? parsedOr(m.payload) : m.message })),
    };
    process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
  }
  return status;
}

function parsedOr(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return payload;
  }
}

process.exitCode = main(process.argv.slice(2));
