import type { SyncBatch } from './batch.js'

/** What one event's apply steps share: the batch's objects, its source and tenant, its inbox row. */
export type ApplyContext = {
  batch: SyncBatch
  sourceId: string
  /** The tenant reseller account the source belongs to: the root of everything it writes. */
  tenantId: string
  inboxId: string
}
