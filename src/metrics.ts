import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the relay exposes, created once per app on its own registry (so tests can build
 * several apps in one process). Names and labels are a contract with dashboards and alerts:
 * see the "Metrics" table of docs/operations.md before renaming anything (a test keeps it in step).
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
    registry,
    webhooksReceived: new Counter({
      name: 'relay_webhooks_received_total',
      help: 'Webhook calls received, by event name (known names, else "other") and outcome',
      labelNames: ['event_name', 'outcome', 'route'] as const,
      registers,
    }),
    eventsMapped: new Counter({
      name: 'relay_events_mapped_total',
      help: 'Accepted events by mapping status (mapped, unmapped) and warning (no_identity, none)',
      labelNames: ['status', 'warning'] as const,
      registers,
    }),
    profileRecordsSkipped: new Counter({
      name: 'relay_profile_records_skipped_total',
      help: 'Profile records not sent because a newer one for the same member and program was already queued',
      registers,
    }),
    messagesDelivered: new Counter({
      name: 'relay_messages_delivered_total',
      help: 'XDM messages acknowledged by Adobe (or written by the dry-run sink), by kind',
      labelNames: ['kind', 'route'] as const,
      registers,
    }),
    messagesDeadLettered: new Counter({
      name: 'relay_messages_dead_lettered_total',
      help: 'XDM messages moved to the dead letters, by reason',
      labelNames: ['reason', 'route'] as const,
      registers,
    }),
    deliveryRetries: new Counter({
      name: 'relay_delivery_retries_total',
      help: 'Messages scheduled for another attempt, by reason (http_429, http_5xx, network, timeout, auth, http_4xx)',
      labelNames: ['reason', 'route'] as const,
      registers,
    }),
    aepRequests: new Counter({
      name: 'relay_aep_requests_total',
      help: 'Requests to AEP streaming ingestion, by HTTP status or network_error',
      labelNames: ['status', 'route'] as const,
      registers,
    }),
    aepRequestDuration: new Histogram({
      name: 'relay_aep_request_duration_seconds',
      help: 'Duration of requests to AEP streaming ingestion',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      labelNames: ['route'] as const,
      registers,
    }),
    eventDeliveryLatency: new Histogram({
      name: 'relay_event_delivery_latency_seconds',
      help: "From the webhook's acceptance to Adobe's acknowledgement of the message",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
      labelNames: ['route'] as const,
      registers,
    }),
    queuePending: new Gauge({
      name: 'relay_queue_pending',
      help: 'Messages waiting for delivery (pending or in flight)',
      registers,
    }),
    queueOldestPendingAge: new Gauge({
      name: 'relay_queue_oldest_pending_age_seconds',
      help: 'Age of the oldest message waiting for delivery; alert on this, not on latency',
      registers,
    }),
    deadLetters: new Gauge({
      name: 'relay_dead_letters',
      help: 'Messages currently in the dead letters',
      registers,
    }),
    imsTokenRequests: new Counter({
      name: 'relay_ims_token_requests_total',
      help: 'IMS access token requests, by outcome (success, error, network_error)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    imsTokenExpiry: new Gauge({
      name: 'relay_ims_token_expiry_seconds',
      help: 'Seconds until the cached IMS access token expires',
      registers,
    }),
    eventLoopDelay: new Histogram({
      name: 'relay_event_loop_delay_seconds',
      help: 'How late the event loop ran a timer sampled every 100 ms (stalls delay webhooks and health checks)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    circuitState: new Gauge({
      name: 'relay_aep_circuit_open',
      help: '1 while the circuit breaker towards AEP is open or probing (requests paused but one probe), else 0',
      labelNames: ['route'] as const,
      registers,
    }),
    accountingFindings: new Gauge({
      name: 'relay_accounting_findings',
      help: 'What accounting found over the last 7 days, by route and kind (capillary_gave_up, rejected_after_acceptance, landed_short, source_unavailable): the sum of the counts of its judged windows',
      labelNames: ['route', 'kind'] as const,
      registers,
    }),
    accountingLastSuccess: new Gauge({
      name: 'relay_accounting_last_success_timestamp_seconds',
      help: 'When accounting last read a source of a route (capillary, relay, adobe) successfully; 0 when it tried and never could',
      labelNames: ['route', 'source'] as const,
      registers,
    }),
    eventsHeld: new Counter({
      name: 'relay_events_held_total',
      help: "Events accepted but held, never delivered: their org is not one of their route's CAPILLARY_ORG_IDS (issue 13)",
      labelNames: ['route'] as const,
      registers,
    }),
    schemaSource: new Gauge({
      name: 'relay_schema_source',
      help: "Which schema XDM messages are held to, per route and kind: 1 the customer's own (from the Schema Registry), 0 the standard one the relay ships (the customer's could not be read) (issue 16)",
      labelNames: ['route', 'kind'] as const,
      registers,
    }),
    schemaMismatches: new Counter({
      name: 'relay_schema_mismatches_total',
      help: "XDM messages that do not fit their schema, per route, kind and action: held (dead letter schema_mismatch, AEP_SCHEMA_VALIDATION=hold) or sent (warn) (issue 16)",
      labelNames: ['route', 'kind', 'action'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
