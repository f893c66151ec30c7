import type { SourceFormat } from '../sources/sources.js'
import { canonicalEnvelope, mapCanonical } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'
import type { MapResult } from './operations.js'

export type Mapper = {
  /** The check ingest runs before acknowledging a delivery. */
  envelope(payload: unknown): EnvelopeResult
  /** The worker's full mapping into canonical operations; pure. */
  map(payload: unknown): MapResult
}

export const mappers: Record<SourceFormat, Mapper> = {
  canonical: { envelope: canonicalEnvelope, map: mapCanonical },
}
