import { XDM_CONTENT_TYPE, type DcsMessage, type MappingOptions, type SchemaRef } from './types.js';
import type { JsonRecord } from './values.js';

/**
 * Wraps an XDM entity in the DCS streaming message AEP expects
 * (`{ header: { schemaRef, imsOrgId, datasetId, flowId, source }, body: { xdmMeta, xdmEntity } }`).
 * imsOrgId, flowId and source are optional on AEP's side: they are left out when not configured.
 */
export function toDcsMessage(
  xdmEntity: JsonRecord,
  target: { datasetId: string; schemaId: string },
  options: Pick<MappingOptions, 'imsOrgId' | 'flowId' | 'sourceName'>,
): DcsMessage {
  const schemaRef = (): SchemaRef => ({ id: target.schemaId, contentType: XDM_CONTENT_TYPE });
  // Keys in the order of Adobe's examples, so dry-run output reads like the docs.
  const header: DcsMessage['header'] = {
    schemaRef: schemaRef(),
    ...(nonBlank(options.imsOrgId) ? { imsOrgId: options.imsOrgId } : {}),
    datasetId: target.datasetId,
    ...(nonBlank(options.flowId) ? { flowId: options.flowId } : {}),
    ...(nonBlank(options.sourceName) ? { source: { name: options.sourceName } } : {}),
  };
  return { header, body: { xdmMeta: { schemaRef: schemaRef() }, xdmEntity } };
}

function nonBlank(value: string | undefined): value is string {
  return typeof value === 'string' && value.trim() !== '';
}
