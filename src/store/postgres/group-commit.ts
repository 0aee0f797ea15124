import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../../errors.js';
import { createCommitQueue, type PendingAccept } from '../shared/commit-queue.js';
import type { AcceptResult, NewEvent } from '../types.js';
import { isConnectionError } from './connection.js';
import { acceptEventsParams, SQL } from './sql.js';

/** Events per group-commit transaction; a larger burst is committed in several. */
const MAX_GROUP = 500;

interface GroupCommitDeps {
  withClient: <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>;
  logger: Logger;
  emitWork: () => void;
  /** Commits still running, so close() can wait for them. */
  flushes: Set<Promise<void>>;
  /** Other replicas are told of new work by a NOTIFY in the same statement; undefined: no NOTIFY. */
  notifyPayload: { channel: string; payload: string } | undefined;
}

/** The webhooks of one event-loop turn, committed together in one statement per group of 500. */
export function createGroupCommit({ withClient, logger, emitWork, flushes, notifyPayload }: GroupCommitDeps) {
  /** One statement, so one round trip, per group (issue 12); atomic without BEGIN/COMMIT. */
  const acceptAll = async (inputs: NewEvent[]): Promise<AcceptResult[]> => {
    const params = acceptEventsParams(inputs, notifyPayload);
    const { rows } = await withClient((client) => client.query<{ accepted: boolean; skipped: number }>(SQL.acceptEvents, params));
    return rows.map((row) => (row.accepted ? { outcome: 'accepted', skippedProfiles: row.skipped } : { outcome: 'duplicate' }));
  };

  /**
   * One transaction per group, without savepoints: a SAVEPOINT per event would cost two round trips
   * each, and more than 64 subtransactions in one transaction overflow PostgreSQL's per-backend
   * subxid cache, which slows every other session's snapshots. Instead, a group that fails on a
   * statement error is committed again one event per transaction, so a bad event (or a deadlock
   * with another replica on a watermark row) fails only itself. A lost connection fails the group.
   */
  const commitGroup = async (group: PendingAccept[]): Promise<void> => {
    let results: AcceptResult[];
    try {
      results = await acceptAll(group.map((p) => p.input));
    } catch (error) {
      if (group.length === 1 || isConnectionError(error)) {
        for (const pending of group) pending.reject(new StoreUnavailableError(error));
        return;
      }
      logger.warn({ err: error, events: group.length }, 'group commit failed; committing its events one by one');
      for (const pending of group) await commitGroup([pending]);
      return;
    }
    group.forEach((pending, i) => pending.resolve(results[i]!));
    if (results.some((r) => r.outcome === 'accepted')) emitWork();
  };

  const commits = createCommitQueue((group) => {
    for (let i = 0; i < group.length; i += MAX_GROUP) {
      const done = commitGroup(group.slice(i, i + MAX_GROUP));
      flushes.add(done);
      void done.finally(() => flushes.delete(done));
    }
  });

  return commits;
}
