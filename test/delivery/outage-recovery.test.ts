import { describe, expect, it } from 'vitest';
import { createCircuitBreaker, type CircuitState } from '../../src/delivery/circuit-breaker.js';
import { deliverAll, retryAll, useWorkerHarness } from '../helpers/delivery-worker-harness.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * After an outage of the whole endpoint, the backlog it held back is due as soon as the circuit's
 * probe gets through, not after each message's own backoff (issue 12). Real clock, real SQLite.
 */
const h = useWorkerHarness();

/** The first retry waits at least this long: far beyond the wait for the recovered backlog below. */
const BACKOFF_MS = 60_000;

describe('delivery worker: recovery after an outage', () => {
  it('503s hold a backlog; once a probe succeeds every held message is delivered at once, a 400-held one keeps its backoff', async () => {
    // Acceptance times on the real clock too, so nothing counts as past the retry window.
    h.clock = Date.now();
    const states: CircuitState[] = [];
    // Which sends went out while the circuit was not closed: the probes.
    let probesFrom: number | undefined;
    let probesTo: number | undefined;
    const circuitBreaker = createCircuitBreaker({
      windowMs: 60_000,
      minRequests: 3,
      failureRatio: 0.7,
      openMs: 50,
      onChange: (s) => {
        states.push(s);
        if (s === 'open') probesFrom ??= h.sink.sends.length;
        if (s === 'closed') probesTo = h.sink.sends.length;
      },
    });
    h.sink.script(retryAll('http_4xx')).otherwise(retryAll('http_5xx'));
    const rejectedOnce = await h.accept();
    h.startWorker({ circuitBreaker, now: Date.now, random: () => 0, options: { retry: { baseMs: BACKOFF_MS, maxMs: 3_600_000 } } });
    await waitFor(async () => (await h.messageOf(rejectedOnce)).attempts === 1, { what: 'the message-specific failure' });

    // The outage: the inlet answers 503 to everything until the circuit opens.
    const held: string[] = [];
    for (let i = 0; i < 40; i += 1) held.push(await h.accept());
    await waitFor(async () => (await Promise.all(held.map((id) => h.messageOf(id)))).every((m) => m.state === 'pending' && m.attempts >= 1), {
      what: 'every message of the backlog failed once',
    });
    expect(states).toContain('open');
    const before = await h.messageOf(held[0]!);
    expect(before.nextAttemptAt! - Date.now()).toBeGreaterThan(BACKOFF_MS / 2);

    // Adobe is back; the next webhook is the probe.
    h.sink.otherwise(deliverAll);
    const probe = await h.accept();
    await h.settledWith(probe, (m) => m.state === 'delivered', 'the probe delivered');
    // Per-message backoff would deliver them a minute from now: this bound is a fraction of that.
    await waitFor(async () => (await Promise.all(held.map((id) => h.messageOf(id)))).every((m) => m.state === 'delivered'), {
      timeoutMs: 10_000,
      what: 'the whole backlog delivered',
    });
    expect(states.at(-1)).toBe('closed');
    // Every probe carried one message, the one that got through included; the backlog then went in
    // batches, not one message a request.
    const probes = h.sink.sends.slice(probesFrom, probesTo);
    expect(probes.length).toBeGreaterThan(1);
    expect(probes.map((send) => send.ids.length)).toEqual(probes.map(() => 1));
    const after = h.sink.sends.slice(probesTo);
    expect(Math.max(...after.map((send) => send.ids.length))).toBeGreaterThan(1);
    const stillWaiting = await h.messageOf(rejectedOnce);
    expect(stillWaiting).toMatchObject({ state: 'pending', attempts: 1 });
    expect(stillWaiting.nextAttemptAt! - Date.now()).toBeGreaterThan(BACKOFF_MS / 2);
  });
});
