/**
 * Plumbing shared by the fake servers (IMS, DCS, Platform, Capillary): a real HTTP server on
 * 127.0.0.1:0 that can go down and come back on the same port, hold or reset requests, and tell
 * waiters about every state change.
 */
import http from 'node:http';
import { EventEmitter } from 'node:events';
import { stoppable } from '../../support/stoppable-server.js';

// ---------------------------------------------------------------- shared plumbing

export interface Held {
  release(): void;
  destroy(): void;
}

/** Faults that act on the connection rather than the answer (ServerHarness.playTransportFault). */
export type TransportFault = { kind: 'slow'; delayMs: number } | { kind: 'hold' } | { kind: 'reset' };

/** Whether a fake's fault is one ServerHarness.playTransportFault plays. */
export const isTransportFault = <F extends { kind: string }>(fault: F): fault is Extract<F, TransportFault> =>
  fault.kind === 'slow' || fault.kind === 'hold' || fault.kind === 'reset';

export class ServerHarness {
  readonly events = new EventEmitter();
  readonly server: http.Server;
  port = 0;
  private readonly listener: ReturnType<typeof stoppable>;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly held = new Set<Held>();
  private closed = false;

  constructor(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
    this.events.setMaxListeners(0);
    this.server = http.createServer(handler);
    this.listener = stoppable(this.server);
  }

  async listen(port = 0): Promise<void> {
    this.port = await this.listener.listen(port);
  }

  /** Stop listening and cut every connection: clients now get ECONNREFUSED. */
  async stop(): Promise<void> {
    for (const h of this.held) h.destroy();
    this.held.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.listener.stop();
  }

  /** An outage: stop listening (connections refused) until `restore()`, which listens on the same port again. */
  async outage(): Promise<void> {
    await this.stop();
    this.changed('outage');
  }

  async restore(): Promise<void> {
    await this.listen(this.port);
    this.changed('restore');
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  hold(release: () => void, res: http.ServerResponse): void {
    const h: Held = {
      release: () => {
        this.held.delete(h);
        release();
      },
      destroy: () => {
        this.held.delete(h);
        res.socket?.destroy();
      },
    };
    this.held.add(h);
  }

  /**
   * The faults every fake plays alike: answer `delayMs` late, hold the answer until released, or cut
   * the connection. `done` records the outcome of the last two (a late answer records its own).
   */
  playTransportFault(fault: TransportFault, res: http.ServerResponse, answer: () => void, done: (outcome: 'held' | 'reset') => void): void {
    if (fault.kind === 'slow') return this.later(fault.delayMs, answer);
    if (fault.kind === 'hold') this.hold(answer, res);
    else res.socket?.destroy();
    done(fault.kind === 'hold' ? 'held' : 'reset');
  }

  releaseAll(): void {
    for (const h of [...this.held]) h.release();
  }

  changed(event: string, payload?: unknown): void {
    this.events.emit(event, payload);
    this.events.emit('change');
  }

  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      // A safety net so a broken test fails with a message instead of hanging: not a synchronizer.
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake ${what}: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('change', check);
      };
      this.events.on('change', check);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    this.events.removeAllListeners();
  }
}

export function readBody(req: http.IncomingMessage, limit: number): Promise<{ text: string; bytes: number; overLimit: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      // Keep draining past the limit (answering before the body is read makes clients see resets).
      if (bytes <= limit) chunks.push(c);
    });
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), bytes, overLimit: bytes > limit }));
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': headers['content-type'] ?? 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export interface FaultSlot<F> {
  fault: F;
  remaining: number;
  probability: number;
}

export function takeFault<F>(slot: FaultSlot<F> | undefined, random: () => number): { fault?: F; exhausted: boolean } {
  if (!slot) return { exhausted: false };
  if (slot.probability < 1 && random() >= slot.probability) return { exhausted: false };
  slot.remaining -= 1;
  return { fault: slot.fault, exhausted: slot.remaining <= 0 };
}

export interface FaultOptions {
  /** Apply to the next N requests only, then clear. Default: until cleared. */
  times?: number;
  /** Apply to each request with this probability (0..1). Default 1. */
  probability?: number;
}

export function slotOf<F>(fault: F | null, options: FaultOptions): FaultSlot<F> | undefined {
  return fault === null ? undefined : { fault, remaining: options.times ?? Infinity, probability: options.probability ?? 1 };
}

/**
 * Faults chosen by request path (a substring, or a pattern), as the Platform and Capillary fakes take
 * them: one per match, replaced when set again, dropped once its `times` are used up.
 */
export class PathFaults<F> {
  private readonly entries: Array<{ match: string | RegExp; slot: FaultSlot<F> }> = [];

  set(match: string | RegExp, fault: F | null, options: FaultOptions = {}): void {
    const at = this.entries.findIndex((e) => String(e.match) === String(match));
    if (at !== -1) this.entries.splice(at, 1);
    const slot = slotOf(fault, options);
    if (slot) this.entries.push({ match, slot });
  }

  clear(): void {
    this.entries.length = 0;
  }

  /** The fault for this request's path, if any applies to it now. */
  take(pathname: string): F | undefined {
    const entry = this.entries.find((e) => (typeof e.match === 'string' ? pathname.includes(e.match) : e.match.test(pathname)));
    if (!entry) return undefined;
    const taken = takeFault(entry.slot, Math.random);
    if (taken.exhausted) this.entries.splice(this.entries.indexOf(entry), 1);
    return taken.fault;
  }
}

// ---------------------------------------------------------------- IMS

export function headerOne(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
