import { RelayError, StoreUnavailableError } from '../../errors.js';
import type { MappingResult, PayloadMessage, QueuedMessage } from '../../mapping/types.js';
import { customerIdOfEvent } from '../shared/console-rows.js';
import { messageBody } from '../shared/message-body.js';
import type { NewEvent, Store } from '../types.js';
import type { CheckpointRun } from './checkpointer.js';

/**
 * What crosses between the event loop and the SQLite store's thread (thread.ts and
 * thread-worker.ts), as plain objects (structured clone). Measured by
 * bench/store/store-thread-crossing.ts on the accept path (a turn of 32 webhooks of 5 KB with their mapped
 * XDM messages, as WIRE_ARGS sends them): the clone costs the event loop 7.9-8.1 µs per webhook to
 * send against 13.2-13.3 µs for JSON.stringify plus the string (which escapes the raw body again);
 * decoding a claim's reply 0.8 µs per message against 1.6 µs for JSON.parse; only the accept outcomes
 * decode faster from JSON (0.2 against 0.5 µs). Only errors need a wire shape: a clone keeps the
 * message but not the class or the cause.
 */

/** The Store methods the thread serves, by name. A Store method missing here is a type error below. */
export const FORWARDED_METHODS = [
  'acceptEvent', 'claimDue', 'settle', 'makeDueNow', 'nextDueAt', 'getEvent', 'listDeadLetters', 'replayDeadLetters',
  'listEventsForReplay', 'replaceMessages', 'queueStats', 'prune', 'checkWritable',
  'searchEvents', 'listAttempts', 'deadLetterGroups', 'listDeadLettersFiltered', 'countDeadLetters', 'activity',
  'relayCounts', 'messagesOfEvents', 'profileMessagesOfCustomer', 'rejectAfterAcceptance', 'saveAccountingWindow', 'listAccountingWindows',
  'startAccountingRun', 'finishAccountingRun', 'latestAccountingRun', 'acquireAccountingLock', 'releaseAccountingLock',
] as const satisfies readonly (keyof Store)[];
export type ForwardedMethod = (typeof FORWARDED_METHODS)[number];
/** Kept on this side of the thread: a property, a local subscription, and the lifecycle. */
type LocalMember = 'backend' | 'onWork' | 'close';
// Fails to compile when Store gains a member that is neither forwarded nor local.
const everyMemberHandled: Exclude<keyof Store, ForwardedMethod | LocalMember> extends never ? true : never = true;
void everyMemberHandled;

/**
 * The arguments of a call as they cross, where they differ from the caller's. A webhook's parsed
 * body (`event.data`) is the one the engine reads only for the console's customer id: that id is
 * worked out here and the body stays behind. Cloning it would cost the event loop as much again as
 * the rest of the call (the raw body crosses anyway, as `payload`), and a body nested thousands of
 * levels deep, which JSON.parse takes, overflows the stack of the clone (test/ingest/webhook-fuzz).
 */
export const WIRE_ARGS: Partial<Record<ForwardedMethod, (args: unknown[]) => unknown[]>> = {
  acceptEvent: ([input]) => {
    const { event, mapping, ...rest } = input as NewEvent;
    return [{ ...rest, event: { ...event, data: {} }, mapping: serialized(mapping), customerId: rest.customerId !== undefined ? rest.customerId : customerIdOfEvent(event) }];
  },
  replaceMessages: ([eventId, mapping, now]) => [eventId, serialized(mapping as MappingResult<QueuedMessage>), now],
};

/**
 * Each mapped message crosses as the text it is stored as (messageBody, what the engine would write
 * anyway), not as the XDM object: cloning a nested object costs the sender a walk of every field
 * and the receiver a rebuild of it, where a string is one copy. The engine stores the same bytes.
 * Measured (v8 serialize, deserialize and messageBody, a turn of 32 points-issued webhooks): 57-60
 * µs of CPU per webhook before, 40-47 after; the event loop's share rises by 11-15 µs (the
 * JSON.stringify moved to it), the store thread's falls by 27-30.
 */
function serialized(mapping: MappingResult<QueuedMessage>): MappingResult<QueuedMessage> {
  if (mapping.messages.every((m) => 'payload' in m)) return mapping;
  return {
    ...mapping,
    messages: mapping.messages.map((m): PayloadMessage => ('payload' in m ? m : { kind: m.kind, payload: messageBody(m), ...(m.profileKey !== undefined ? { profileKey: m.profileKey } : {}), sourceCreatedAt: m.sourceCreatedAt })),
  };
}

export interface WireCall {
  id: number;
  method: ForwardedMethod;
  args: unknown[];
}
/** One turn's calls, in order; `close` last when the store is closing. */
export type WireRequest = { calls: WireCall[]; close?: number };

export interface WireError {
  /** 'unavailable': a StoreUnavailableError whose cause carries `message` and `code`. */
  kind: 'unavailable' | 'relay' | 'error';
  message: string;
  code?: string;
  statusCode?: number;
  context?: Record<string, unknown>;
}
export type WireEntry =
  | { id: number; result?: unknown }
  | { id: number; error: WireError }
  /** New work may be due: sent before the replies of the commit that caused it. */
  | { work: true }
  | { checkpointFailure: string }
  | { slowCheckpoint: CheckpointRun };
export type WireReply = WireEntry[];

export function toWireError(error: unknown): WireError {
  if (error instanceof StoreUnavailableError) {
    const cause = error.cause as { message?: unknown; code?: unknown } | undefined;
    return {
      kind: 'unavailable',
      message: typeof cause?.message === 'string' ? cause.message : String(cause),
      ...(typeof cause?.code === 'string' ? { code: cause.code } : {}),
    };
  }
  if (error instanceof RelayError) return { kind: 'relay', message: error.message, code: error.code, statusCode: error.statusCode, context: error.context };
  const { message, code } = error as { message?: unknown; code?: unknown };
  return { kind: 'error', message: typeof message === 'string' ? message : String(error), ...(typeof code === 'string' ? { code } : {}) };
}

/** The error as the engine threw it, as far as callers can tell: class, `code`, message, status. */
export function fromWireError(wire: WireError): Error {
  const plain = Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code });
  if (wire.kind === 'unavailable') return new StoreUnavailableError(plain);
  if (wire.kind === 'relay') return new RelayError(wire.code ?? 'RELAY_ERROR', wire.message, { statusCode: wire.statusCode ?? 500, context: wire.context ?? {} });
  return plain;
}
