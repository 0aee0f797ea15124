export { messageKey } from './message-key.js';
/**
 * Local stand-ins for Adobe IMS and AEP streaming ingestion (DCS): real HTTP servers on 127.0.0.1:0,
 * no mocks, behaving as /work/shared/reference/adobe-streaming-and-ims.md describes (quirks included).
 * Used by unit, integration and fault-injection tests and by the benchmark, so the hot path stays cheap.
 * Tests wait on `waitFor(predicate)` (re-checked on every state change), never on sleeps.
 */
export * from './fake-ims.js';
export * from './fake-dcs.js';
export type { FaultOptions } from './fake-server.js';
