import postgres from 'postgres'
import { mapCanonical } from '../mappers/canonical.js'
import { parseJson } from '../mappers/envelope.js'
import { mapperFor } from '../mappers/index.js'
import type { MappingConfig } from '../mappers/mapping.js'
import type { MapResult } from '../mappers/operations.js'
import type { ClaimedEvent, EventHandler, Settled } from '../queue/worker.js'
import type { SourceFormat } from '../sources/sources.js'
import { applyAccount } from './accounts.js'
import type { ApplyContext } from './context.js'
import { lockObjects, objectsOf } from './objects.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { applySubscription } from './subscriptions.js'

/**
 * Applies one inbox event: map the payload with its source's format, lock the objects it
 * touches, apply each operation. Runs inside the worker's transaction, so the records, their
 * history and the inbox status commit together or not at all.
 */
export const handleEvent: EventHandler = async (tx, event) => {
  // One round trip: the source, and this transaction declared the sync writer (the database
  // refuses synced-field writes otherwise). No source, no declaration, and nothing is written.
  const [source]: [{ format: SourceFormat; account_id: string; mapping: MappingConfig | null }?] = await tx`
    select format, account_id, mapping, set_config('tiersync.writer', 'sync', true) as writer
    from sources where id = ${event.source_id}`
  if (!source) throw new EventRejected('source no longer exists')

  let payload: unknown
  try {
    payload = parseJson(event.body)
  } catch {
    throw new EventRejected('stored body is not JSON')
  }
  const mapped = await mapEvent(source, event, payload)
  if (!mapped.ok) throw new EventRejected(mapped.reason, mapped.details)

  const ctx: ApplyContext = {
    tx,
    sourceId: event.source_id,
    tenantId: source.account_id,
    inboxId: event.id,
    wake: [],
  }
  await lockObjects(tx, event.source_id, mapped.operations.flatMap(objectsOf))
  try {
    const statuses = await tx.savepoint(async () => {
      const out: ApplyStatus[] = []
      for (const op of mapped.operations) {
        out.push(op.kind === 'account' ? await applyAccount(ctx, op) : await applySubscription(ctx, op))
      }
      return out
    })
    return { status: summarize(statuses), wake: ctx.wake }
  } catch (err) {
    if (err instanceof MustWait) {
      // Nothing of this event is kept (the savepoint rolled back); it runs again once the object arrives.
      return { status: 'waiting', waitingFor: { kind: err.kind, id: err.externalId } } satisfies Settled
    }
    // P0001: a database invariant refused it; class 22: data Postgres cannot store. Neither heals on retry.
    if (err instanceof postgres.PostgresError && (err.code === 'P0001' || err.code.startsWith('22'))) {
      throw new EventRejected(err.message)
    }
    throw err
  }
}

/**
 * A delivery maps with its source's mapper (a thin one with what the fetch step stored); drift
 * found by a reconciliation is canonical whatever the format, and keeps its own event kind in the
 * history (`subscription.reconciled`, `account.reconciled`).
 */
async function mapEvent(
  source: { format: SourceFormat; mapping: MappingConfig | null },
  event: ClaimedEvent,
  payload: unknown,
): Promise<MapResult> {
  if (event.origin === 'reconcile') {
    const mapped = mapCanonical(payload)
    if (mapped.ok) for (const op of mapped.operations) op.eventType = event.event_type
    return mapped
  }
  const mapper = mapperFor(source)
  if (mapper.fetches && event.fetched === null && mapper.fetches(payload).length > 0) {
    // The fetch step has not stored the BSS's answer yet (it runs before this transaction).
    throw new Error('the BSS state of this notification has not been fetched yet')
  }
  return mapper.map(payload, {
    fetched: event.fetched ?? {},
    fetchedAt: event.fetched_at ?? event.received_at,
  })
}

/** An event with several operations is `applied` if any changed something, else its one outcome. */
function summarize(statuses: ApplyStatus[]): ApplyStatus {
  if (statuses.length === 0 || statuses.includes('applied')) return 'applied'
  if (statuses.includes('stale')) return 'stale'
  return 'ignored_unpaid'
}
