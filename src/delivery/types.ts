import type { ClaimedMessage } from '../store/types.js';

// Owned by the store, which leases it; re-exported for the sinks, which send it.
export type { ClaimedMessage };

/** What happened to one message in one attempt. Retry reasons are metric labels: keep them stable. */
export type RetryReason = 'http_429' | 'http_5xx' | 'network' | 'timeout' | 'auth' | 'http_4xx';

/** The request a message's outcome came from, for the message's attempt history (issue 14). */
export interface RequestMeta {
  /** Epoch ms when the request started. */
  at: number;
  durationMs: number;
  /** Adobe's HTTP status; null for a network error or timeout. */
  status: number | null;
  /** Messages in that request. */
  batchSize: number;
  /** Adobe's transaction id for this message (delivered only). */
  xactionId?: string;
}

export type MessageOutcome = (
  | { id: number; outcome: 'delivered' }
  | { id: number; outcome: 'rejected'; reason: string; detail: string }
  | { id: number; outcome: 'retry'; reason: RetryReason; detail: string; retryAfterMs?: number }
) & { request?: RequestMeta };

/**
 * Where delivered messages go: the AEP streaming client, or the dry-run file.
 * A sink returns one outcome per message it was given, and never throws for a delivery failure.
 */
export interface Sink {
  readonly name: 'aep' | 'dry-run';
  send(batch: ClaimedMessage[], signal: AbortSignal): Promise<MessageOutcome[]>;
  /** For /readyz: can this sink deliver now (e.g. an IMS token is cached or obtainable)? */
  readiness(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The IMS token's state, for the console's overview (AEP with IMS credentials only; undefined: no token used). */
  tokenStatus?(): { valid: boolean; expiresAt?: number; lastErrorCode?: string } | undefined;
  close(): Promise<void>;
}
