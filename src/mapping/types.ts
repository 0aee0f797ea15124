/**
 * What the mapper produces: Adobe DCS streaming messages, exactly as they are sent
 * (see shared Adobe notes: `{ header: { schemaRef, imsOrgId, datasetId, flowId, source }, body: { xdmMeta, xdmEntity } }`).
 */
export const XDM_CONTENT_TYPE = 'application/vnd.adobe.xed-full+json;version=1';

export interface SchemaRef {
  id: string;
  contentType: string;
}

export interface DcsMessage {
  header: {
    schemaRef: SchemaRef;
    imsOrgId?: string;
    datasetId: string;
    flowId?: string;
    source?: { name: string };
  };
  body: {
    xdmMeta: { schemaRef: SchemaRef };
    xdmEntity: Record<string, unknown>;
  };
}

export type MessageKind = 'event' | 'profile';

export interface OutboundMessage {
  kind: MessageKind;
  message: DcsMessage;
  /**
   * For profile records: the member and program the record describes (`<customerId>:<programId>`).
   * The store keeps the newest `sourceCreatedAt` queued per key and skips older profile records
   * (out-of-order guard); ExperienceEvents are never skipped.
   */
  profileKey?: string;
  /**
   * The source time (epoch ms) this message reflects: the event's timestamp for an ExperienceEvent.
   * For a profile record, null when the event has no trustworthy createdAt: such a record is sent,
   * but neither moves the member's watermark nor is held back by it (see trustedSourceTime).
   */
  sourceCreatedAt: number | null;
}

/**
 * A message that is a JSON payload of its own, not a DCS envelope: AEP_OUTPUT=source (the payloads
 * of Adobe's Capillary source) and raw (the webhook body as received). Posted one a request.
 */
export interface PayloadMessage {
  /** `profile` goes to the profile dataflow, `event` to the transaction (or raw) one. */
  kind: MessageKind;
  /** The request body, serialized once: sent byte for byte. */
  payload: string;
  profileKey?: string;
  sourceCreatedAt: number | null;
}

/** What the store queues: either form. */
export type QueuedMessage = OutboundMessage | PayloadMessage;

export type MappingStatus = 'mapped' | 'unmapped';

export interface MappingResult<M extends QueuedMessage = OutboundMessage> {
  status: MappingStatus;
  messages: M[];
  /** Non-fatal observations worth counting and logging, e.g. `no_identity`. Stable codes. */
  warnings: string[];
}

export interface IdentityNamespaces {
  /** Namespace for Capillary's customerId; the primary identity when present. */
  customerId: string;
  email: string;
  phone: string;
  /** Namespace for `instore.externalId`; empty string leaves it out. */
  externalId: string;
  /** `identifierType` (case-insensitive) of a channel identifier -> namespace. Empty: none sent. */
  channels: Record<string, string>;
}

export interface MappingOptions {
  /** Where ExperienceEvents go. */
  event: { datasetId: string; schemaId: string };
  /** Where Profile records go; undefined means no profile records are produced. */
  profile?: { datasetId: string; schemaId: string };
  imsOrgId?: string;
  flowId?: string;
  sourceName: string;
  /** AEP tenant id (without the underscore); undefined means no custom `_<tenant>` fields. */
  tenantId?: string;
  identity: IdentityNamespaces;
  /** SHA-256 hash email and phone values (for hashed namespaces). */
  hashIdentities: boolean;
  /** Leave out Loyalty Details fields added to XDM in 2025-2026 (older AEP schemas lack them). */
  legacyLoyaltySchema: boolean;
}
