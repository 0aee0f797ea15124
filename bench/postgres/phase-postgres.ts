import { rmSync } from 'node:fs';
import type { Context } from '../context.js';
import { cpuSeconds, relayEnv, startRelay } from '../harness/processes.js';
import { dropDatabase } from '../../support/postgres-databases.js';
import { createBenchDatabase, startBenchPostgres, type BenchPostgres } from './bench-postgres.js';
import { acceptedSoFar, median } from '../harness/stats.js';
import { runWrk, type WrkResult } from '../load/wrk.js';

type Store = 'sqlite' | 'postgres';

export interface PostgresRound {
  store: Store;
  round: number;
  wrk: WrkResult;
  accepted: number;
  /** Relay process CPU per accepted webhook over the wrk run, µs (PostgreSQL's own CPU not counted). */
  cpuUs: number;
}

interface StoreSide {
  rps: number;
  p99Ms: number;
  rpsRange: [number, number];
  cpuUs: number;
}

export type PostgresResult =
  | { skipped: string }
  | { skipped?: undefined; origin: string; version: string; rounds: PostgresRound[]; sqlite: StoreSide; postgres: StoreSide; rpsRatio: number };

/**
 * 1b. PostgreSQL, one replica, beside SQLite (issue 12; bench/postgres/postgres-ingest.ts as a phase): wrk on
 * one relay with production settings, fresh store per round (a new database, or a new file), the
 * stores alternating ABBA. PostgreSQL is TEST_POSTGRES_URL's server or a throwaway durable cluster;
 * with neither to be had the phase is skipped, not failed.
 */
export async function postgresPhase(ctx: Context): Promise<PostgresResult> {
  const p = ctx.plan.postgres;
  let pg: BenchPostgres;
  try {
    pg = await startBenchPostgres();
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    ctx.log(`  postgres: skipped: no PostgreSQL (${why})`);
    return { skipped: `no PostgreSQL (${why})` };
  }
  const rounds: PostgresRound[] = [];
  try {
    ctx.log(`  postgres: ${pg.origin}, PostgreSQL ${pg.version}`);
    for (let round = 0; round < p.rounds; round += 1) {
      const order: Store[] = round % 2 === 0 ? ['sqlite', 'postgres'] : ['postgres', 'sqlite'];
      for (const store of order) {
        const db = store === 'postgres' ? await createBenchDatabase(pg.url, `ingest${round}`) : undefined;
        const dir = ctx.freshDir(`ingest-${store}`);
        const relay = await startRelay(relayEnv({ dir, dcsInletUrl: ctx.dcs.inletUrl, ims: ctx.ims, extra: db ? { STORE_URL: db.url } : {} }));
        try {
          const load = (prefix: string, seconds: number) =>
            runWrk(ctx.wrk, { url: relay.url, script: ctx.wrkScript, prefix: `${prefix}${Date.now()}x${round}${store}`, seconds, connections: p.connections, threads: 1 });
          await load('pgwarm', p.warmupSeconds);
          const accepted = () => acceptedSoFar(relay.opsUrl);
          const before = await accepted();
          const cpuAtStart = cpuSeconds(relay.pid);
          const wrk = await load('pgrun', p.seconds);
          const cpu = cpuSeconds(relay.pid) - cpuAtStart;
          const n = (await accepted()) - before;
          rounds.push({ store, round, wrk, accepted: n, cpuUs: (cpu / n) * 1e6 });
          ctx.log(
            `  postgres round ${round + 1} ${store.padEnd(8)}: ${Math.round(wrk.rps)} webhooks/s, p99 ${wrk.p99Ms.toFixed(1)} ms, errors ${wrk.errors}, accepted ${n}, ` +
              `relay CPU ${((cpu / n) * 1e6).toFixed(0)} µs/webhook`,
          );
        } finally {
          await relay.stop();
          rmSync(dir, { recursive: true, force: true });
          if (db) await dropDatabase(pg.url, db.name);
        }
      }
    }
  } finally {
    await pg.close();
  }
  const side = (store: Store): StoreSide => {
    const rs = rounds.filter((r) => r.store === store);
    const rps = rs.map((r) => r.wrk.rps);
    return { rps: median(rps), p99Ms: median(rs.map((r) => r.wrk.p99Ms)), rpsRange: [Math.min(...rps), Math.max(...rps)], cpuUs: median(rs.map((r) => r.cpuUs)) };
  };
  const sqlite = side('sqlite');
  const postgres = side('postgres');
  return { origin: pg.origin, version: pg.version, rounds, sqlite, postgres, rpsRatio: postgres.rps / sqlite.rps };
}
