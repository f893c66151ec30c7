import type { Tx } from '../db/client.js'
import type { EventRef } from '../queue/jobs.js'

/** What one event's apply steps share: its transaction, its source and tenant, and whom to wake. */
export type ApplyContext = {
  tx: Tx
  sourceId: string
  /** The tenant reseller account the source belongs to: the root of everything it writes. */
  tenantId: string
  inboxId: string
  wake: EventRef[]
}
