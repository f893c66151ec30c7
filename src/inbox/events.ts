import type { Sql } from '../db/client.js'
import type { EventRef } from '../queue/jobs.js'
import type { Cursor } from '../routes/pagination.js'

export const EventStatus = [
  'received',
  'processing',
  'applied',
  'stale',
  'waiting',
  'ignored_unpaid',
  'failed',
] as const
export type EventStatus = (typeof EventStatus)[number]

export type InboxEvent = {
  id: string
  source_id: string
  webhook_id: string
  event_type: string
  object_id: string | null
  occurred_at: Date | null
  received_at: Date
  processed_at: Date | null
  status: EventStatus
  attempts: number
  error: string | null
  error_details: unknown
  waiting_for_kind: string | null
  waiting_for_id: string | null
  request_id: string | null
}

const COLUMNS = [
  'id',
  'source_id',
  'webhook_id',
  'event_type',
  'object_id',
  'occurred_at',
  'received_at',
  'processed_at',
  'status',
  'attempts',
  'error',
  'error_details',
  'waiting_for_kind',
  'waiting_for_id',
  'request_id',
] as const

export type EventFilter = {
  source_id?: string | undefined
  status?: EventStatus | undefined
  type?: string | undefined
  object_id?: string | undefined
  since?: Date | undefined
  until?: Date | undefined
}

function where(sql: Sql, f: EventFilter) {
  return sql`
    true
    ${f.source_id ? sql`and source_id = ${f.source_id}` : sql``}
    ${f.status ? sql`and status = ${f.status}` : sql``}
    ${f.type ? sql`and event_type = ${f.type}` : sql``}
    ${f.object_id ? sql`and object_id = ${f.object_id}` : sql``}
    ${f.since ? sql`and received_at >= ${f.since}` : sql``}
    ${f.until ? sql`and received_at < ${f.until}` : sql``}`
}

/** Newest first. */
export async function listEvents(
  sql: Sql,
  f: EventFilter,
  limit: number,
  after?: Cursor,
): Promise<InboxEvent[]> {
  return sql<InboxEvent[]>`
    select ${sql(COLUMNS)} from inbox
    where ${where(sql, f)} ${after ? sql`and id < ${after.id}` : sql``}
    order by id desc limit ${limit + 1}`
}

export async function getEvent(sql: Sql, id: string): Promise<(InboxEvent & { body: string }) | undefined> {
  const [row]: [(InboxEvent & { body: string })?] =
    await sql`select ${sql(COLUMNS)}, body from inbox where id = ${id}`
  return row
}

/**
 * Puts settled events back to `received` under a new generation (so BullMQ sees a new job) and
 * returns them for queueing. Events still in flight are left alone.
 */
export async function markForReplay(sql: Sql, f: EventFilter & { id?: string }): Promise<EventRef[]> {
  // A replayed thin notification reads the BSS anew (`fetched` cleared): the point of a replay
  // is the state as it is now.
  return sql<EventRef[]>`
    update inbox set status = 'received', attempts = 0, error = null, error_details = null, processed_at = null,
      waiting_for_kind = null, waiting_for_id = null, enqueued_at = null, generation = generation + 1,
      fetched = null, fetched_at = null
    where status not in ('received', 'processing')
      ${f.id ? sql`and id = ${f.id}` : sql``}
      and ${where(sql, f)}
    returning id, generation`
}
