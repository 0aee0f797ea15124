import type { QueuedMessage } from '../../mapping/types.js';

/** The body a message is sent with, serialized once here: a payload message is already its body. */
export function messageBody(out: QueuedMessage): string {
  return 'payload' in out ? out.payload : JSON.stringify(out.message);
}
