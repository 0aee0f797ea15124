/**
 * The soak's faults, one at a time in rotation, and the attribution of each repeated delivery to
 * the fault that can explain it: a message Adobe accepted before a kill -9 or during a PostgreSQL
 * restart, whose "delivered" mark never reached the store, is sent again once its lease expires.
 * Outages and 429s answer the whole request with an error, so Adobe accepts nothing twice there.
 */
import type { PostgresServer } from '../../support/postgres-server.js';
import type { RepeatDelivery, SoakDcs } from './soak-adobe.js';
import type { SoakRelay } from './soak-relay.js';

export type FaultKind = 'kill -9' | 'postgres restart' | 'Adobe outage' | 'Adobe 429 storm';

export interface FaultRecord {
  kind: FaultKind;
  startAt: number;
  endAt: number;
  detail: string;
}

/** How long an outage or a 429 storm lasts, and PostgreSQL stays down. */
const OUTAGE_REFUSED_MS = 8000;
const OUTAGE_503_MS = 7000;
const STORM_MS = 15_000;
const STORM_RETRY_AFTER_S = 5;
const POSTGRES_DOWN_MS = 5000;

export function rotation(postgres: boolean): FaultKind[] {
  // The process and store faults first, so a short run still meets them.
  return postgres ? ['postgres restart', 'kill -9', 'Adobe outage', 'Adobe 429 storm'] : ['kill -9', 'Adobe outage', 'Adobe 429 storm'];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function injectFault(kind: FaultKind, parts: { relay: SoakRelay; dcs: SoakDcs; postgres?: PostgresServer }): Promise<FaultRecord> {
  const startAt = Date.now();
  const done = (detail: string): FaultRecord => ({ kind, startAt, endAt: Date.now(), detail });
  switch (kind) {
    case 'kill -9': {
      const pid = parts.relay.processes[parts.relay.processes.length - 1]!.pid;
      await parts.relay.killAndRestart();
      const next = parts.relay.processes[parts.relay.processes.length - 1]!.pid;
      return done(`pid ${pid} killed, pid ${next} listening after ${Date.now() - startAt} ms`);
    }
    case 'postgres restart': {
      await parts.postgres!.stop();
      await sleep(POSTGRES_DOWN_MS);
      await parts.postgres!.start();
      return done(`stopped (fast), down ${POSTGRES_DOWN_MS / 1000} s, started`);
    }
    case 'Adobe outage': {
      await parts.dcs.setMode({ kind: 'refused' });
      await sleep(OUTAGE_REFUSED_MS);
      await parts.dcs.setMode({ kind: 'status', status: 503 });
      await sleep(OUTAGE_503_MS);
      await parts.dcs.setMode({ kind: 'ok' });
      return done(`connections refused ${OUTAGE_REFUSED_MS / 1000} s, then 503 ${OUTAGE_503_MS / 1000} s`);
    }
    case 'Adobe 429 storm': {
      await parts.dcs.setMode({ kind: 'status', status: 429, retryAfterS: STORM_RETRY_AFTER_S });
      await sleep(STORM_MS);
      await parts.dcs.setMode({ kind: 'ok' });
      return done(`429 with Retry-After: ${STORM_RETRY_AFTER_S} for ${STORM_MS / 1000} s`);
    }
  }
}

/**
 * Each repeat goes to the first kill or PostgreSQL restart that began after Adobe first accepted the
 * message (allowing a request's length before it) and no later than the repeat: the only faults here
 * that lose a "delivered" mark. Anything else is unexplained.
 */
export function attributeRepeats(repeats: RepeatDelivery[], faults: FaultRecord[], requestSlackMs = 5000): Record<string, number> {
  const causes: Record<string, number> = {};
  const candidates = faults.filter((f) => f.kind === 'kill -9' || f.kind === 'postgres restart');
  for (const r of repeats) {
    const fault = candidates.find((f) => r.firstAt <= f.endAt && f.startAt - requestSlackMs <= r.firstAt && f.startAt <= r.againAt);
    const cause = fault ? `${fault.kind} at ${new Date(fault.startAt).toISOString().slice(11, 19)}` : 'unexplained';
    causes[cause] = (causes[cause] ?? 0) + 1;
  }
  return causes;
}
