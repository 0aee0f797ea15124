import type { ClaimedMessage } from './types.js';

/** `{"messages":[` + `]}`: the batch envelope's own bytes. */
const ENVELOPE_BYTES = 15;

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
