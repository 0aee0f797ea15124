import type Database from 'better-sqlite3';
import type { MappingResult, QueuedMessage } from '../../mapping/types.js';
import type { PendingAccept } from '../shared/commit-queue.js';
import { customerIdOfEvent, storedAttempt } from '../shared/console-rows.js';
import { messageBody } from '../shared/message-body.js';
import { DEFAULT_ROUTE, type AcceptResult, type Settlement } from '../types.js';
import type { SqliteConsole } from './console.js';
import type { ClaimRow, Statements } from './statements.js';

/**
 * The SQLite store's write transactions: a turn's webhooks in one commit, claims, settlements,
 * replays. Each is one better-sqlite3 transaction; store.ts decides when they run and what they
 * signal.
 */
export function createSqliteTransactions(db: Database.Database, sql: Statements, consoleSql: SqliteConsole, synchronous: 'full' | 'normal' | undefined) {
  const insertMessages = (eventId: string, route: string, mapping: MappingResult<QueuedMessage>, now: number): number => {
    let skipped = 0;
    for (const out of mapping.messages) {
      let state: 'pending' | 'skipped' = 'pending';
      // A profile record without a trustworthy source time is sent, and leaves the watermark alone.
      if (out.kind === 'profile' && out.profileKey !== undefined && out.sourceCreatedAt !== null) {
        const newest = sql.watermark.get(out.profileKey) as { newest_created_at: number } | undefined;
        if (newest && newest.newest_created_at > out.sourceCreatedAt) state = 'skipped';
        else sql.upsertWatermark.run(out.profileKey, out.sourceCreatedAt);
      }
      if (state === 'skipped') skipped += 1;
      const { lastInsertRowid } = sql.insertMessage.run({
        event_id: eventId,
        kind: out.kind,
        route,
        state,
        next_attempt_at: now,
        accepted_at: now,
        dead_reason: state === 'skipped' ? 'superseded_by_newer_profile' : null,
        profile_key: out.profileKey ?? null,
        source_created_at: out.sourceCreatedAt,
      });
      sql.insertBody.run(lastInsertRowid, messageBody(out));
    }
    return skipped;
  };

  const commitGroup = db.transaction((group: PendingAccept[]): AcceptResult[] =>
    group.map(({ input }) => {
      const { event } = input;
      const inserted = sql.insertEvent.run(
        event.eventId, event.eventName, event.envelope, event.createdAt ?? null, event.receivedAt, input.held ? 'held' : input.mapping.status, input.payload, input.traceParent ?? null, input.customerId !== undefined ? input.customerId : customerIdOfEvent(event), input.route ?? null,
      );
      if (inserted.changes === 0) return { outcome: 'duplicate' };
      if (input.held) return { outcome: 'accepted', skippedProfiles: 0 };
      return { outcome: 'accepted', skippedProfiles: insertMessages(event.eventId, input.route ?? DEFAULT_ROUTE, input.mapping, event.receivedAt) };
    }),
  );

  /**
   * Claims and settlements skip the fsync even in 'full' mode. Losing one to a power cut is
   * harmless: a lost claim simply was not made, a lost settlement means one more delivery of the
   * same message (at-least-once, same `_id`). The WAL is written in order, so the next webhook
   * commit's fsync makes them durable too. This halves the fsyncs on the event loop under load.
   */
  const withoutFsync = <T>(fn: () => T): T => {
    if (synchronous === 'normal') return fn();
    db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      db.pragma('synchronous = FULL');
    }
  };

  /**
   * A delivery that succeeded keeps its attempt on the message row (migration 9); only attempts
   * that failed get a delivery_attempts row. A delivered settlement whose lease was lost (the row
   * did not change) still has its attempt recorded as a row, as every attempt made is.
   */
  const settleAll = db.transaction((owner: string, settlements: Settlement[], now: number) => {
    const asRows: Settlement[] = [];
    for (const s of settlements) {
      if (s.outcome === 'delivered') {
        const a = s.attempt && storedAttempt(s.attempt);
        const onRow = sql.settleDelivered.run(now, a?.at ?? null, a?.durationMs ?? null, a?.status ?? null, a?.batchSize ?? null, a?.xactionId ?? null, s.id, owner).changes > 0;
        if (!onRow) asRows.push(s);
        continue;
      }
      if (s.outcome === 'retry') sql.settleRetry.run(s.nextAttemptAt, s.error, s.id, owner);
      else if (s.outcome === 'release') sql.release.run(s.nextAttemptAt, s.id, owner);
      else sql.settleDead.run(s.reason, s.error, now, s.id, owner);
      asRows.push(s);
    }
    consoleSql.recordAttempts(asRows);
  });

  const claim = db.transaction((owner: string, now: number, leaseUntil: number, limit: number, route: string | undefined) =>
    (route === undefined ? sql.claim.all(leaseUntil, owner, now, limit) : sql.claimRoute.all(leaseUntil, owner, route, now, limit)) as ClaimRow[],
  );

  const replaceOne = (eventId: string, mapping: MappingResult<QueuedMessage>, now: number): boolean => {
    const busy = sql.countInFlight.get(eventId, now) as { n: number };
    if (busy.n > 0) return false;
    sql.deleteUndelivered.run(eventId);
    sql.setMappingStatus.run(mapping.status, eventId);
    // The messages go to the event's own route, whoever asks for the replay.
    const route = (sql.eventRoute.get(eventId) as { route: string | null } | undefined)?.route ?? DEFAULT_ROUTE;
    insertMessages(eventId, route, mapping, now);
    return true;
  };

  // A dead profile record whose member has a newer record queued since would overwrite newer state
  // in AEP if sent now: it is skipped, as at retry time, and not counted as replayed.
  const replayDead = db.transaction((ids: number[], now: number): number =>
    ids.reduce((n, id) => {
      sql.skipSupersededDead.run(now, id);
      return n + sql.replayDead.run(now, id).changes;
    }, 0),
  );

  return { commitGroup, withoutFsync, settleAll, claim, replaceOne, replayDead };
}
