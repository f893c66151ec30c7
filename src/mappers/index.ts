import type { SourceFormat } from '../sources/sources.js'
import { canonicalEnvelope } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'

/** Per format: the check ingest runs before acknowledging a delivery. */
export const envelopeChecks: Record<SourceFormat, (payload: unknown) => EnvelopeResult> = {
  canonical: canonicalEnvelope,
}
