import postgres from 'postgres'
import type { Tx } from '../db/client.js'
import { mapCanonical } from '../mappers/canonical.js'
import { parseJson } from '../mappers/envelope.js'
import { mapperFor, type SourceMapper } from '../mappers/index.js'
import type { MappingConfig } from '../mappers/mapping.js'
import type { MapResult, Operation } from '../mappers/operations.js'
import type { EventRef } from '../queue/jobs.js'
import type { ClaimedEvent, EventHandler, Outcome } from '../queue/worker.js'
import type { SourceFormat } from '../sources/sources.js'
import { applyAccount } from './accounts.js'
import { SyncBatch } from './batch.js'
import { lockObjects, objectKey, objectsOf } from './objects.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { applySubscription } from './subscriptions.js'

type Source = { id: string; format: SourceFormat; account_id: string; mapping: MappingConfig | null }
type Item = { index: number; event: ClaimedEvent; tenantId: string; operations: Operation[] }

/**
 * Applies a batch of inbox events inside the worker's transaction, so the records, their history
 * and the inbox statuses commit together or not at all: map each payload with its source's
 * format, lock every object the batch touches, load them, run the sync rules event after event in
 * memory (each event all-or-nothing), and write the result back in a handful of statements.
 */
export const handleEvents: EventHandler = async (tx, events) => {
  const outcomes: Outcome[] = new Array(events.length)
  const sources = await loadSources(tx, events)
  const mappers = new Map<string, SourceMapper>()
  const items: Item[] = []
  for (const [index, event] of events.entries()) {
    try {
      const source = sources.get(event.source_id)
      if (!source) throw new EventRejected('source no longer exists')
      const mapper = () => {
        const m = mappers.get(source.id) ?? mapperFor(source)
        mappers.set(source.id, m)
        return m
      }
      const mapped = await mapEvent(mapper, event)
      if (!mapped.ok) throw new EventRejected(mapped.reason, mapped.details)
      items.push({ index, event, tenantId: source.account_id, operations: mapped.operations })
    } catch (error) {
      outcomes[index] = { error }
    }
  }
  if (items.length === 0) return { outcomes, wake: [] }

  const uses = items.flatMap((it) => it.operations.flatMap((op) => objectsOf(it.event.source_id, op)))
  // The loads go out right behind the locks: one connection runs them in order, so they read once
  // every lock is held, without a round trip between.
  const locked = lockObjects(tx, uses)
  const closing = new Set(
    items.flatMap((it) =>
      it.operations.flatMap((op) =>
        op.kind === 'account' && op.action === 'close'
          ? [objectKey({ sourceId: it.event.source_id, kind: 'account', externalId: op.id })]
          : [],
      ),
    ),
  )
  const [, batch] = await Promise.all([
    locked,
    SyncBatch.load(tx, uses, (sourceId, externalId) =>
      closing.has(objectKey({ sourceId, kind: 'account', externalId })),
    ),
  ])

  // In inbox order. An event that needs an object a later event of the batch brings runs again
  // right after that one, as a woken event would; the others stay parked (`waiting`).
  const parked = new Map<string, Item[]>()
  const run = (item: Item): void => {
    const mark = batch.mark()
    const applied = batch.appliedCount
    const ctx = { batch, sourceId: item.event.source_id, tenantId: item.tenantId, inboxId: item.event.id }
    try {
      const statuses = item.operations.map((op) =>
        op.kind === 'account' ? applyAccount(ctx, op) : applySubscription(ctx, op),
      )
      outcomes[item.index] = { status: summarize(statuses) }
    } catch (err) {
      batch.rollback(mark)
      if (!(err instanceof MustWait)) {
        outcomes[item.index] = { error: err }
        return
      }
      outcomes[item.index] = { status: 'waiting', waitingFor: { kind: err.kind, id: err.externalId } }
      const k = objectKey({ sourceId: item.event.source_id, kind: err.kind, externalId: err.externalId })
      parked.set(k, [...(parked.get(k) ?? []), item])
      return
    }
    for (const object of batch.appliedSince(applied)) {
      const waiting = parked.get(objectKey(object))
      parked.delete(objectKey(object))
      for (const w of waiting ?? []) run(w)
    }
  }
  for (const item of items) run(item)

  let wake: EventRef[] | Promise<EventRef[]>
  if (items.length > 1) {
    // A refusal by the database fails the whole batch: the worker splits it to find the event.
    // Not awaited: the status corrections follow the writes on the connection (see `Handled`).
    wake = batch.flush(tx)
    wake.catch(() => {}) // awaited by the worker; handled here so a failure is not reported unhandled first
  } else {
    try {
      wake = await tx.savepoint((sp) => batch.flush(sp))
    } catch (err) {
      // P0001: a database invariant refused it; class 22: data Postgres cannot store. Neither heals on retry.
      if (!(err instanceof postgres.PostgresError && (err.code === 'P0001' || err.code.startsWith('22'))))
        throw err
      outcomes[(items[0] as Item).index] = { error: new EventRejected(err.message) }
      wake = []
    }
  }
  return { outcomes, wake }
}

/** The sources of the batch, and this transaction declared the sync writer (the database refuses synced-field writes otherwise). */
async function loadSources(tx: Tx, events: readonly ClaimedEvent[]): Promise<Map<string, Source>> {
  const ids = [...new Set(events.map((e) => e.source_id))]
  const rows = await tx<Source[]>`
    select id, format, account_id, mapping, set_config('tiersync.writer', 'sync', true) as writer
    from sources where id = any(${ids}::uuid[])`
  return new Map(rows.map((r) => [r.id, r]))
}

/**
 * A delivery maps with its source's mapper (a thin one with what the fetch step stored); drift
 * found by a reconciliation is canonical whatever the format, and keeps its own event kind in the
 * history (`subscription.reconciled`, `account.reconciled`).
 */
async function mapEvent(mapperOf: () => SourceMapper, event: ClaimedEvent): Promise<MapResult> {
  let payload: unknown
  try {
    payload = parseJson(event.body)
  } catch {
    throw new EventRejected('stored body is not JSON')
  }
  if (event.origin === 'reconcile') {
    const mapped = mapCanonical(payload)
    if (mapped.ok) for (const op of mapped.operations) op.eventType = event.event_type
    return mapped
  }
  const mapper = mapperOf()
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
