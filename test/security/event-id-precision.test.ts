import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { SAMPLES } from '../helpers/samples.js';
import type { CapillaryEvent } from '../../src/mapping/capillary-event.js';
import { replayEvents } from '../../src/ops/replay-events.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The sample as raw JSON with a numeric eventId written as given (JSON.stringify would round it). */
function rawWithNumericId(digits: string, shape: 'flat' | 'wrapped'): string {
  const { eventId: _ignored, ...rest } = structuredClone(SAMPLES['points-issued']!);
  const flat = `{"eventId":${digits},${JSON.stringify(rest).slice(1)}`;
  return shape === 'flat' ? flat : `{"body":${flat}}`;
}

describe('attack: numeric eventIds above 2^53 that JSON.parse rounds to the same number', () => {
  it.each(['flat', 'wrapped'] as const)('two events that differ in the last digit are both accepted under their exact ids (%s)', async (shape) => {
    t = await buildTestApp();
    const ids = ['12345678901234567891', '12345678901234567892'];
    expect(Number(ids[0])).toBe(Number(ids[1])); // what JSON.parse alone would see
    for (const id of ids) {
      const res = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: rawWithNumericId(id, shape) });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ eventId: id, status: 'accepted' });
    }
    for (const id of ids) expect((await t.app.store.getEvent(id))?.eventId).toBe(id);
    // The second delivery of the same id is still a duplicate.
    const again = await t.app.inject({ method: 'POST', url: '/webhooks/capillary', headers: authHeaders, payload: rawWithNumericId(ids[1]!, shape) });
    expect(again.json()).toEqual({ eventId: ids[1], status: 'duplicate' });
  });
});

describe('attack: the same rounding on replay after a mapping change', () => {
  it('a replayed event keeps its exact id in the XDM _id', async () => {
    t = await buildTestApp();
    const id = '12345678901234567891';
    const payload = rawWithNumericId(id, 'flat');
    await t.app.store.acceptEvent({ event: { ...normalizedEvent(id), eventName: 'notYetMapped' }, payload, mapping: { status: 'unmapped', messages: [], warnings: [] } });
    const result = await replayEvents({ store: t.app.store, mapping: t.config.mapping, now: Date.now(), filter: { eventIds: [id], limit: 10 } });
    expect(result).toMatchObject({ examined: 1, requeued: 1 });
    const view = await t.app.store.getEvent(id);
    expect(view?.messages.map((m) => (m.message as { body: { xdmEntity: { _id: string } } }).body.xdmEntity._id)).toContain(id);
  });
});

function normalizedEvent(eventId: string): CapillaryEvent {
  return { eventId, eventName: 'pointsIssued', createdAt: 1_750_000_000_000, receivedAt: 1_750_000_000_000, orgId: undefined, refId: undefined, apiRequestId: undefined, eventLogId: undefined, loyaltyEventId: undefined, envelope: 'flat', data: {} };
}
