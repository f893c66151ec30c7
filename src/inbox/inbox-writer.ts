import type { Sql } from '../db/client.js'
import { isStorageUnavailable } from '../errors.js'
import type { EventRef } from '../queue/jobs.js'

export type InboxRow = {
  sourceId: string
  webhookId: string
  eventType: string
  occurredAt: Date | null
  objectId: string | null
  /** The delivery's JSON text, exactly as verified. */
  body: string
  requestId: string | null
}

export type InboxWrite = { id: string; duplicate: boolean }

type Pending = { row: InboxRow; resolve: (w: InboxWrite) => void; reject: (err: unknown) => void }

export type InboxWriter = {
  /** Resolves once the row is committed (or found already stored): the acknowledgement. */
  write(row: InboxRow): Promise<InboxWrite>
  /**
   * Called with the newly committed rows, after their commit. While a listener is registered the
   * rows are written already marked queued (`enqueued_at`): the listener queues them at once,
   * and unmarks those it could not queue (see createEnqueuer).
   */
  onCommitted(listener: (refs: EventRef[]) => void): void
}

/**
 * Group commit: every row written while a statement is in flight joins the next one, so
 * concurrent deliveries cost one round trip and one fsync between them, and each caller still
 * hears back only after its own row is durable.
 */
export function createInboxWriter(
  sql: Sql,
  opts: { maxBatch?: number; maxBatchBytes?: number } = {},
): InboxWriter {
  const maxBatch = opts.maxBatch ?? 500
  const maxBatchBytes = opts.maxBatchBytes ?? 8 * 1024 * 1024
  let queue: Pending[] = []
  let inFlight = 0
  const listeners: ((refs: EventRef[]) => void)[] = []

  function pump() {
    // One statement at a time per process, plus one being assembled: batches grow under load,
    // bounded by count and by bytes (500 bodies of 1 MiB must not become one statement).
    if (inFlight > 0 || queue.length === 0) return
    let size = 0
    let bytes = 0
    while (size < queue.length && size < maxBatch && (size === 0 || bytes < maxBatchBytes)) {
      bytes += (queue[size] as Pending).row.body.length
      size++
    }
    const batch = queue.slice(0, size)
    queue = queue.slice(size)
    inFlight++
    void flush(batch).finally(() => {
      inFlight--
      pump()
    })
  }

  function settle(batch: Pending[], results: InboxWrite[]) {
    batch.forEach((p, i) => {
      p.resolve(results[i] as InboxWrite)
    })
  }

  // Listeners hear of the new rows as soon as their INSERT has committed, even if what follows
  // it (the lookup of duplicates) fails: rows written marked queued must be queued.
  const insert = (rows: InboxRow[]) =>
    insertBatch(sql, rows, {
      queued: listeners.length > 0,
      onInserted: (refs) => {
        for (const l of listeners) l(refs)
      },
    })

  async function flush(batch: Pending[]) {
    try {
      settle(batch, await insert(batch.map((p) => p.row)))
    } catch (err) {
      if (batch.length === 1 || isStorageUnavailable(err)) {
        for (const p of batch) p.reject(err)
        return
      }
      // One row Postgres refuses must not fail its neighbours: retry each alone.
      await Promise.all(
        batch.map(async (p) => {
          try {
            settle([p], await insert([p.row]))
          } catch (rowErr) {
            p.reject(rowErr)
          }
        }),
      )
    }
  }

  return {
    write(row) {
      return new Promise<InboxWrite>((resolve, reject) => {
        queue.push({ row, resolve, reject })
        if (inFlight === 0) setImmediate(pump)
      })
    },
    onCommitted(listener) {
      listeners.push(listener)
    },
  }
}

/** A row's identity; Postgres returns the uuid in lower case. */
const key = (sourceId: string, webhookId: string) => `${sourceId.toLowerCase()}\0${webhookId}`

/**
 * The batch's bodies as one text, split again by Postgres. A body is JSON text (ingest stores
 * only bodies that parsed), and JSON holds no raw control character but tab, CR and LF as
 * whitespace, so U+0001 cannot occur in one. Sent as a text[] instead, each body would be escaped
 * for the array literal, quote by quote: the bodies cost the API 6.8 µs a row that way and 3.9
 * joined (350-byte bodies, measured with postgres.js on this machine), and Postgres parses the
 * plain text faster too.
 */
const BODY_SEPARATOR = '\u0001'

function joinBodies(rows: readonly InboxRow[]): string {
  for (const r of rows) {
    if (r.body === '' || r.body.includes(BODY_SEPARATOR)) throw new Error('an inbox body is not JSON text')
  }
  return rows.map((r) => r.body).join(BODY_SEPARATOR)
}

/**
 * One INSERT for the batch; rows already stored (same source and webhook-id) come back as
 * duplicates with their original id. A webhook-id repeated inside the batch is a duplicate of
 * its first occurrence. `queued`: the caller queues the new rows right after the commit, so they
 * are written marked queued (a separate update would write every row a second time, with an
 * entry in each of the inbox's indexes: more Postgres work than the insert itself);
 * `onInserted` hears of them as soon as the INSERT has committed.
 */
export async function insertBatch(
  sql: Sql,
  rows: readonly InboxRow[],
  opts: { queued?: boolean; onInserted?: (refs: EventRef[]) => void } = {},
): Promise<InboxWrite[]> {
  const firstIndex = new Map<string, number>()
  const unique: InboxRow[] = []
  const slot = rows.map((r) => {
    const k = key(r.sourceId, r.webhookId)
    let i = firstIndex.get(k)
    if (i === undefined) {
      i = unique.push(r) - 1
      firstIndex.set(k, i)
    }
    return i
  })
  // Only the insert: the few rows it skips (already stored) are looked up below.
  const inserted = await sql<{ id: string; source_id: string; webhook_id: string }[]>`
    insert into inbox (source_id, webhook_id, event_type, occurred_at, object_id, body, request_id, enqueued_at)
    select source_id, webhook_id, event_type, occurred_at, object_id, body, request_id,
      case when ${opts.queued ?? false}::boolean then now() end
    from unnest(
      ${sql.array(unique.map((r) => r.sourceId))}::uuid[],
      ${sql.array(unique.map((r) => r.webhookId))}::text[],
      ${sql.array(unique.map((r) => r.eventType))}::text[],
      ${sql.array(unique.map((r) => r.occurredAt?.toISOString() ?? null))}::timestamptz[],
      ${sql.array(unique.map((r) => r.objectId))}::text[],
      string_to_array(${joinBodies(unique)}, ${BODY_SEPARATOR}),
      ${sql.array(unique.map((r) => r.requestId))}::text[]
    ) with ordinality as t(source_id, webhook_id, event_type, occurred_at, object_id, body, request_id, ord)
    order by ord
    on conflict (source_id, webhook_id) do nothing
    returning id, source_id, webhook_id`
  if (inserted.length > 0) opts.onInserted?.(inserted.map((r) => ({ id: String(r.id), generation: 0 })))
  const byOrd = new Map<number, { id: string; duplicate: boolean }>()
  for (const row of inserted) {
    const i = firstIndex.get(key(row.source_id, row.webhook_id))
    if (i !== undefined) byOrd.set(i, { id: row.id, duplicate: false })
  }
  // Rows the insert skipped are already stored (ON CONFLICT waited for any concurrent writer to
  // commit, so they are readable now). Not prepared: planned with its parameters each time, so
  // it probes the unique index however small the inbox was when the connection first asked (a
  // prepared statement's generic plan, once chosen, is kept until the table is analyzed again).
  const missing = unique.flatMap((_, i) => (byOrd.has(i) ? [] : [i]))
  if (missing.length > 0) {
    const found = await sql.unsafe<{ id: string; source_id: string; webhook_id: string }[]>(
      `select x.id, x.source_id, x.webhook_id
       from unnest($1::uuid[], $2::text[]) as m(source_id, webhook_id)
       join inbox x on x.source_id = m.source_id and x.webhook_id = m.webhook_id`,
      [missing.map((i) => unique[i]?.sourceId ?? ''), missing.map((i) => unique[i]?.webhookId ?? '')],
      { prepare: false },
    )
    for (const f of found) {
      const i = firstIndex.get(key(f.source_id, f.webhook_id))
      if (i !== undefined) byOrd.set(i, { id: f.id, duplicate: true })
    }
  }
  const seen = new Set<number>()
  return slot.map((i) => {
    const s = byOrd.get(i)
    if (!s?.id) throw new Error('inbox row neither inserted nor found')
    const repeated = seen.has(i)
    seen.add(i)
    return { id: String(s.id), duplicate: s.duplicate || repeated }
  })
}
