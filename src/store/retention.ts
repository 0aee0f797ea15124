import type { Logger } from 'pino';
import type { Store } from './types.js';

/**
 * Prunes delivered history past the deduplication window on a fixed interval, so tables do not
 * grow without bound. The window is at least 8 days (Capillary retries for 7), so an event id is
 * remembered for as long as Capillary may redeliver it. Dead letters, undelivered messages and
 * unmapped events are never pruned.
 */
export function startRetention(deps: { store: Store; logger: Logger; retentionMs: number; intervalMs: number; now?: () => number }): { stop(): void } {
  const now = deps.now ?? Date.now;
  let running: Promise<void> | undefined;
  const prune = () => {
    if (running) return;
    running = deps.store
      .prune(now() - deps.retentionMs)
      .then((pruned) => {
        if (pruned.events + pruned.messages > 0) deps.logger.info(pruned, 'pruned delivered history past retention');
      })
      .catch((err: unknown) => deps.logger.warn({ err }, 'pruning failed; will retry next interval'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(prune, deps.intervalMs);
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
