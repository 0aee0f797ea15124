import type { MessageKind } from '../mapping/types.js';
import type { MessageState } from './records.js';

/**
 * What the accounting job (issue 17, src/accounting/) asks of a store: the relay's own counts per
 * time range, the messages a failed Adobe record points back to, the move of such a message to the
 * dead letters, and the job's own state (judged windows, runs, a lock so one replica runs it at a time).
 * Both stores implement it and pass one contract (test/store/store-contract-accounting.ts).
 */

/** Why a message Adobe acknowledged is a dead letter after all: its record failed Adobe's validation. */
export const REJECTED_AFTER_ACCEPTANCE = 'rejected_after_acceptance';

export interface RelayCountsQuery {
  route: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

/**
 * Events by the time the relay accepted them (received_at); messages by the time Adobe acknowledged
 * them (or the relay gave up on them): settled_at.
 */
export interface RelayCounts {
  /** Events stored (a duplicate is not counted again); held and unmapped are among them. */
  accepted: number;
  held: number;
  unmapped: number;
  messages: Array<{
    kind: MessageKind;
    /** Acknowledged by Adobe and still counted as delivered. */
    delivered: number;
    /** Acknowledged by Adobe, then found in a failed batch: dead letters of reason rejected_after_acceptance. */
    rejectedAfterAcceptance: number;
    /** Dead-lettered by the relay itself (Adobe refused it at once, or retries expired). */
    dead: number;
  }>;
}

/** A message as accounting matches failed records to it. */
export interface AccountingMessage {
  id: number;
  eventId: string;
  kind: MessageKind;
  state: MessageState;
  deadReason: string | null;
  /** When Adobe acknowledged it (or it died). */
  settledAt: number | null;
}

export interface RejectAfterAcceptance {
  messageId: number;
  /** Adobe's validation messages, as other dead letters carry Adobe's answer. */
  error: string;
}

/** One judged window of one route: the report is the job's JSON (src/accounting/report.ts). */
export interface AccountingWindowRecord {
  route: string;
  from: number;
  to: number;
  judgedAt: number;
  runId: string;
  report: string;
}

export interface AccountingRun {
  runId: string;
  startedAt: number;
  /** What the run covers, as the job wrote it (JSON). */
  params: string;
  finishedAt: number | null;
}

export interface AccountingQueries {
  relayCounts(query: RelayCountsQuery): Promise<RelayCounts>;
  /** The `kind` messages of these events in `route` (any state). */
  messagesOfEvents(query: { route: string; kind: MessageKind; eventIds: string[] }): Promise<AccountingMessage[]>;
  /** Profile records of the customer's events in `route` that Adobe acknowledged in [from, to) (delivered or dead since). */
  profileMessagesOfCustomer(query: { route: string; customerId: string; from: number; to: number }): Promise<AccountingMessage[]>;
  /**
   * Moves delivered messages to the dead letters with reason rejected_after_acceptance and Adobe's
   * error; any other state is left alone. Their acknowledgement time stays (it is when Adobe failed
   * them) and their history gains a `dead` attempt. Returns how many moved.
   */
  rejectAfterAcceptance(items: RejectAfterAcceptance[], now: number): Promise<number>;
  /** Saves a window's report, replacing it and any overlapping window of another size of that route. */
  saveAccountingWindow(window: AccountingWindowRecord): Promise<void>;
  /** Windows that overlap [from, to), of one route or all, oldest first. */
  listAccountingWindows(query: { route?: string; from: number; to: number }): Promise<AccountingWindowRecord[]>;
  startAccountingRun(run: Omit<AccountingRun, 'finishedAt'>): Promise<void>;
  /** Marks it done; forgets older runs and windows that ended before `forgetBefore`. */
  finishAccountingRun(runId: string, finishedAt: number, forgetBefore: number): Promise<void>;
  /** The newest run: unfinished when a process died in it (the job resumes it). */
  latestAccountingRun(): Promise<AccountingRun | undefined>;
  /**
   * The accounting job's lock: one holder at a time across every replica sharing the store
   * (PostgreSQL: a session advisory lock, let go by the server if the holder's connection drops;
   * SQLite: one process). False when another holds it.
   */
  acquireAccountingLock(owner: string): Promise<boolean>;
  releaseAccountingLock(owner: string): Promise<void>;
}
