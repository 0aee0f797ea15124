import type { Logger } from 'pino';
import type { ClaimedMessage, MessageOutcome, Sink } from '../delivery/types.js';
import type { Metrics } from '../metrics.js';
import type { RouteSchemas } from './route-schemas.js';

/** The dead-letter reason of a message held because it does not fit its schema. */
export const SCHEMA_MISMATCH = 'schema_mismatch';

/**
 * Checks each XDM message against its route's schema before the inner sink sends it (issue 16):
 * DCS accepts a record that does not fit with a 200 and drops it later into an error batch nobody
 * reads, so the relay refuses it itself. `hold`: the message is not sent and becomes a dead letter
 * `schema_mismatch` naming the paths that do not fit (replayable once the schema is fixed); `warn`:
 * it is sent and counted. The first batch waits for the first schema read (bounded by the Platform
 * timeout), so a relay that starts with a backlog does not send it unchecked.
 */
export function createValidatingSink(deps: { inner: Sink; schemas: RouteSchemas; mode: 'hold' | 'warn'; route: string; metrics: Metrics; logger: Logger }): Sink {
  const { inner, schemas, mode, route, metrics, logger } = deps;
  const action = mode === 'hold' ? 'held' : 'sent';
  let ready = false;
  void schemas.ready().then(() => {
    ready = true;
  });

  return {
    get name() {
      return inner.name;
    },
    async send(batch: ClaimedMessage[], signal: AbortSignal): Promise<MessageOutcome[]> {
      if (!ready) await Promise.race([schemas.ready(), new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
      const outcomes = new Map<number, MessageOutcome>();
      const toSend: ClaimedMessage[] = [];
      let first: { messageId: number; eventId: string; detail: string } | undefined;
      let mismatches = 0;
      for (const message of batch) {
        const mismatch = schemas.check(message.kind, entityOf(message.body));
        if (mismatch) {
          mismatches += 1;
          metrics.schemaMismatches.inc({ route, kind: message.kind, action });
          const which = mismatch.source === 'customer' ? 'the schema' : 'the standard XDM schema (the customer\'s could not be read)';
          const detail = `does not fit ${which} ${mismatch.schemaId}: ${mismatch.message}`;
          first ??= { messageId: message.id, eventId: message.eventId, detail };
          if (mode === 'hold') {
            outcomes.set(message.id, { id: message.id, outcome: 'rejected', reason: SCHEMA_MISMATCH, detail });
            continue;
          }
        }
        toSend.push(message);
      }
      if (first) logger.warn({ mismatches, messages: batch.length, mode, ...first }, mode === 'hold' ? 'messages do not fit their schema: held as schema_mismatch' : 'messages do not fit their schema: sent anyway (AEP_SCHEMA_VALIDATION=warn)');
      if (toSend.length > 0) for (const outcome of await inner.send(toSend, signal)) outcomes.set(outcome.id, outcome);
      return batch.map((m) => outcomes.get(m.id) ?? { id: m.id, outcome: 'retry', reason: 'network', detail: 'no outcome from sink' });
    },
    readiness: () => inner.readiness(),
    ...(inner.tokenStatus ? { tokenStatus: () => inner.tokenStatus!() } : {}),
    async close() {
      schemas.close();
      await inner.close();
    },
  };
}

/** The record of a DCS message as stored (serialized once at enqueue); undefined when unreadable. */
function entityOf(body: string): unknown {
  try {
    return (JSON.parse(body) as { body?: { xdmEntity?: unknown } }).body?.xdmEntity;
  } catch {
    return undefined;
  }
}
