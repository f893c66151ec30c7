import type { SourceFormat } from '../sources/sources.js'
import { canonicalEnvelope, mapCanonical } from './canonical.js'
import { cloudblueConnectMapper } from './cloudblue-connect.js'
import type { EnvelopeResult } from './envelope.js'
import { interworksMapper } from './interworks.js'
import { type MappingConfig, mappingMapper } from './mapping.js'
import type { FetchRequest, MapContext, MapResult } from './operations.js'
import { partnerCenterMapper } from './partner-center.js'

/**
 * One reseller BSS format. Mappers never do I/O: fetching is the worker's job, as its own retried
 * step, so a failed fetch never loses the received event.
 */
export type Mapper = {
  /** The check ingest runs before acknowledging a delivery. */
  envelope(payload: unknown): EnvelopeResult
  /** Thin notifications: the resources to GET from the BSS first (none for full-state payloads). */
  fetches?(payload: unknown): FetchRequest[]
  /** The worker's full mapping into canonical operations. */
  map(payload: unknown, ctx: MapContext): MapResult
}

/** What callers get: a built-in mapper, or `mapping`'s, which is asynchronous (JSONata evaluates so). */
export type SourceMapper = {
  envelope(payload: unknown): EnvelopeResult | Promise<EnvelopeResult>
  fetches?(payload: unknown): FetchRequest[]
  map(payload: unknown, ctx: MapContext): MapResult | Promise<MapResult>
}

const builtIn: Record<Exclude<SourceFormat, 'mapping'>, Mapper> = {
  canonical: { envelope: canonicalEnvelope, map: mapCanonical },
  interworks: interworksMapper,
  'cloudblue-connect': cloudblueConnectMapper,
  'partner-center': partnerCenterMapper,
}

/** The mapper of a source: its format's, or for `mapping` the one of its stored expression. */
export function mapperFor(source: { format: SourceFormat; mapping: MappingConfig | null }): SourceMapper {
  if (source.format === 'mapping') {
    if (!source.mapping) throw new Error('a mapping source without a mapping')
    return mappingMapper(source.mapping)
  }
  return builtIn[source.format]
}
