import { XDM_CONTENT_TYPE } from '../../src/mapping/types.js';
import type { FakeDcs, FakeIms, MessageValidator } from './fake-adobe.js';
import { validateExperienceEvent, validateProfile } from './xdm-validator.js';

/** The AEP targets the relay is pointed at in integration and process tests. */
export const AEP = {
  orgId: 'ABC123@AdobeOrg',
  flowId: 'd5f6a7b8-0000-4000-8000-000000000001',
  tenant: 'acmecorp',
  event: { datasetId: '5f0c1a2b3c4d5e6f7a8b9c0d', schemaId: 'https://ns.adobe.com/acmecorp/schemas/event-1' },
  profile: { datasetId: '6a1b2c3d4e5f6a7b8c9d0e1f', schemaId: 'https://ns.adobe.com/acmecorp/schemas/profile-1' },
  sourceName: 'capillary-aep-relay',
} as const;

/** Environment that points a relay at the fake IMS and DCS (v3 token endpoint, profile dataset, tenant). */
/**
 * Delivery settings that make the process tests' retries and batches quick (the defaults are sized
 * for production: seconds of backoff, 200 ms of linger). Each test adds its own lease, batch size
 * and concurrency.
 */
export const QUICK_DELIVERY_ENV = {
  DELIVERY_LINGER_MS: '5',
  DELIVERY_POLL_INTERVAL_MS: '50',
  DELIVERY_REQUEST_TIMEOUT_MS: '500',
  DELIVERY_RETRY_BASE_MS: '50',
  DELIVERY_RETRY_MAX_MS: '1000',
} as const;

export function aepEnv(ims: FakeIms, dcs: FakeDcs, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AEP_INLET_URL: dcs.inletUrl(),
    ADOBE_IMS_URL: ims.urls.v3,
    ADOBE_CLIENT_ID: ims.clientId,
    ADOBE_CLIENT_SECRET: ims.clientSecret,
    ADOBE_ORG_ID: AEP.orgId,
    AEP_FLOW_ID: AEP.flowId,
    AEP_TENANT_ID: AEP.tenant,
    AEP_EVENT_DATASET_ID: AEP.event.datasetId,
    AEP_EVENT_SCHEMA_ID: AEP.event.schemaId,
    AEP_PROFILE_DATASET_ID: AEP.profile.datasetId,
    AEP_PROFILE_SCHEMA_ID: AEP.profile.schemaId,
    // No Platform API here: these relays would ask platform.adobe.io for the schemas (issue 16).
    // Tests of the schema check point AEP_PLATFORM_URL at a fake Platform and set their own mode.
    AEP_SCHEMA_VALIDATION: 'off',
    ...overrides,
  };
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What a real inlet would check of one DCS message: the header names a known dataset with its own
 * schema, flow and org, xdmMeta repeats the schemaRef, and the entity validates against the strict
 * flat XDM schema of that dataset (an ExperienceEvent or a Profile record). Returns why it is
 * invalid, or null. Plug into startFakeDcs({ validate }) so the fake refuses what Adobe would.
 */
export const xdmMessageValidator: MessageValidator = (message) => {
  if (!isRecord(message) || !isRecord(message.header) || !isRecord(message.body)) return 'message needs header and body';
  const { header, body } = message;
  const target = header.datasetId === AEP.event.datasetId ? AEP.event : header.datasetId === AEP.profile.datasetId ? AEP.profile : undefined;
  if (!target) return `unknown dataset ${String(header.datasetId)}`;
  const schemaRef = { id: target.schemaId, contentType: XDM_CONTENT_TYPE };
  if (JSON.stringify(header.schemaRef) !== JSON.stringify(schemaRef)) return `header.schemaRef does not match dataset ${target.datasetId}`;
  if (!isRecord(body.xdmMeta) || JSON.stringify(body.xdmMeta.schemaRef) !== JSON.stringify(schemaRef)) return 'body.xdmMeta.schemaRef differs from header.schemaRef';
  if (header.flowId !== AEP.flowId) return `header.flowId is ${String(header.flowId)}`;
  if (header.imsOrgId !== AEP.orgId) return `header.imsOrgId is ${String(header.imsOrgId)}`;
  if (!isRecord(header.source) || header.source.name !== AEP.sourceName) return 'header.source.name missing';
  const errors = target === AEP.event ? validateExperienceEvent(body.xdmEntity) : validateProfile(body.xdmEntity);
  return errors.length === 0 ? null : `XDM validation failed: ${errors.slice(0, 3).join('; ')}`;
};

/** `body.xdmEntity._id` of a DCS message (ExperienceEvents carry the Capillary eventId there). */
export function xdmId(message: unknown): string | undefined {
  const id = isRecord(message) && isRecord(message.body) && isRecord(message.body.xdmEntity) ? message.body.xdmEntity._id : undefined;
  return typeof id === 'string' ? id : undefined;
}
