import { describe, expect, it } from 'vitest';
import { batchRequestBody, packBatches } from '../../src/delivery/batcher.js';
import type { ClaimedMessage } from '../../src/delivery/types.js';

let nextId = 1;
/** A claimed message whose serialized body is about `size` bytes (multi-byte characters when `wide`). */
function message(size: number, wide = false): ClaimedMessage {
  const id = nextId++;
  const filler = wide ? 'é'.repeat(Math.max(0, Math.floor((size - 40) / 2))) : 'x'.repeat(Math.max(0, size - 40));
  return { id, eventId: `e-${id}`, kind: 'event', body: JSON.stringify({ body: { xdmEntity: { _id: `m-${id}`, f: filler } } }), attempts: 0, acceptedAt: 0 };
}

/** The request body the AEP sink sends for a batch, built the obvious way (batchRequestBody must match it byte for byte). */
const requestBody = (batch: ClaimedMessage[]) => '{"messages":[' + batch.map((m) => m.body).join(',') + ']}';
const bytes = (batch: ClaimedMessage[]) => Buffer.byteLength(requestBody(batch));

describe('packBatches', () => {
  it('keeps every whole request body, envelope included, within maxBytes, and packs tightly', () => {
    const messages = Array.from({ length: 200 }, (_, i) => message(200 + ((i * 37) % 900), i % 3 === 0));
    const maxBytes = 10_000;
    const batches = packBatches(messages, { maxBytes, maxMessages: 1_000 });
    for (const [i, batch] of batches.entries()) {
      expect(bytes(batch)).toBeLessThanOrEqual(maxBytes);
      const next = batches[i + 1]?.[0];
      // A batch is closed only because the next message would have taken the request to the limit.
      if (next) expect(bytes([...batch, next])).toBeGreaterThanOrEqual(maxBytes);
    }
  });

  it('counts bytes, not characters', () => {
    const wide = Array.from({ length: 10 }, () => message(2_000, true));
    const batches = packBatches(wide, { maxBytes: 10_000, maxMessages: 100 });
    for (const batch of batches) expect(bytes(batch)).toBeLessThanOrEqual(10_000);
    expect(batches.length).toBeGreaterThan(2);
  });

  it('closes a batch at maxMessages', () => {
    const messages = Array.from({ length: 25 }, () => message(100));
    expect(packBatches(messages, { maxBytes: 1_000_000, maxMessages: 10 }).map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it('sends a single message over the limit alone, between its neighbours', () => {
    const [a, huge, b, c] = [message(100), message(50_000), message(100), message(100)];
    const batches = packBatches([a!, huge!, b!, c!], { maxBytes: 10_000, maxMessages: 100 });
    expect(batches.map((batch) => batch.map((m) => m.id))).toEqual([[a!.id], [huge!.id], [b!.id, c!.id]]);
  });

  it('keeps order and loses nothing', () => {
    const messages = Array.from({ length: 57 }, (_, i) => message(i % 5 === 0 ? 20_000 : 300));
    const batches = packBatches(messages, { maxBytes: 10_000, maxMessages: 7 });
    expect(batches.flat().map((m) => m.id)).toEqual(messages.map((m) => m.id));
    expect(batches.every((batch) => batch.length > 0 && batch.length <= 7)).toBe(true);
  });

  it('returns no batch for no messages', () => {
    expect(packBatches([], { maxBytes: 10_000, maxMessages: 10 })).toEqual([]);
  });
});

describe('batchRequestBody', () => {
  it('is the envelope around the bodies, byte for byte, multi-byte characters included', () => {
    const batch = [message(300, true), message(120), message(900, true), message(60)];
    const body = batchRequestBody(batch);
    expect(body.equals(Buffer.from(requestBody(batch)))).toBe(true);
    expect(JSON.parse(body.toString('utf8'))).toEqual({ messages: batch.map((m) => JSON.parse(m.body)) });
  });

  it('writes only the range asked for, with no spare bytes', () => {
    const batch = Array.from({ length: 7 }, (_, i) => message(100 + i * 50, i % 2 === 0));
    expect(batchRequestBody(batch, 2, 5).equals(Buffer.from(requestBody(batch.slice(2, 5))))).toBe(true);
    expect(batchRequestBody(batch, 6, 7).equals(Buffer.from(requestBody(batch.slice(6))))).toBe(true);
    expect(batchRequestBody(batch, 3, 3).toString()).toBe('{"messages":[]}');
  });
});
