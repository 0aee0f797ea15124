import type { ClaimedMessage } from './types.js';

const ENVELOPE_OPEN = '{"messages":[';
const ENVELOPE_CLOSE = ']}';
/** `{"messages":[` + `]}`: the batch envelope's own bytes. */
const ENVELOPE_BYTES = ENVELOPE_OPEN.length + ENVELOPE_CLOSE.length;
const COMMA = 0x2c;

/**
 * Packs claimed messages, in order, into batches whose whole request body stays under `maxBytes`
 * (Adobe refuses requests over 1 MB) and `maxMessages`. A single message larger than the limit gets
 * a batch of its own: Adobe's 413 then rejects that one message alone.
 */
export function packBatches(messages: ClaimedMessage[], limits: { maxBytes: number; maxMessages: number }): ClaimedMessage[][] {
  const batches: ClaimedMessage[][] = [];
  let current: ClaimedMessage[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body) + 1;
    if (current.length > 0 && (bytes + size > limits.maxBytes || current.length >= limits.maxMessages)) {
      batches.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The request body `{"messages":[m1,m2,...]}` for `messages[from..to)`, written straight into one
 * Buffer from the bodies serialized at enqueue time. Not a joined string: that would be a second
 * copy of the batch (~460 KB for 500 messages) on the V8 heap, which outlives the request's round
 * trip and so is promoted to the old generation, and undici would copy it into a Buffer anyway.
 */
export function batchRequestBody(messages: ReadonlyArray<{ body: string }>, from = 0, to = messages.length): Buffer {
  let size = ENVELOPE_BYTES + Math.max(0, to - from - 1);
  for (let i = from; i < to; i += 1) size += Buffer.byteLength(messages[i]!.body);
  // Not from the shared pool: the pool's 8 KB slabs are no use at this size.
  const body = Buffer.allocUnsafeSlow(size);
  let at = body.write(ENVELOPE_OPEN, 0, 'latin1');
  for (let i = from; i < to; i += 1) {
    if (i > from) body[at++] = COMMA;
    at += body.write(messages[i]!.body, at, 'utf8');
  }
  body.write(ENVELOPE_CLOSE, at, 'latin1');
  return body;
}
