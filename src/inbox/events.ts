import type { Sql } from '../db/client.js'
import { mapCanonical } from '../mappers/canonical.js'
import { parseJson } from '../mappers/envelope.js'
import { mapperFor } from '../mappers/index.js'
import type { MappingConfig } from '../mappers/mapping.js'
import type { MapResult } from '../mappers/operations.js'
import type { EventRef } from '../queue/jobs.js'
import type { Cursor } from '../routes/pagination.js'
import type { SourceFormat } from '../sources/sources.js'

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

export type EventDetail = InboxEvent & {
  payload: unknown
  origin: 'webhook' | 'reconcile'
  fetched: Record<string, unknown> | null
  fetched_at: Date | null
  /** What the payload maps to now, under its source's current format (pure: nothing is applied). */
  mapped: MapResult | { ok: 'pending'; reason: string }
}

export async function getEvent(sql: Sql, id: string): Promise<EventDetail | undefined> {
  const [row]: [
    (InboxEvent & {
      body: string
      origin: 'webhook' | 'reconcile'
      fetched: Record<string, unknown> | null
      fetched_at: Date | null
      format: SourceFormat
      mapping: MappingConfig | null
    })?,
  ] = await sql`
    select ${sql(COLUMNS.map((c) => `i.${c}`))}, i.body, i.origin, i.fetched, i.fetched_at, s.format, s.mapping
    from inbox i join sources s on s.id = i.source_id where i.id = ${id}`
  if (!row) return undefined
  const { body, format, mapping, ...event } = row
  const payload = parseJson(body)
  return { ...event, payload, mapped: await mappedOf(row, payload) }
}

async function mappedOf(
  row: {
    origin: string
    fetched: Record<string, unknown> | null
    fetched_at: Date | null
    received_at: Date
  } & {
    format: SourceFormat
    mapping: MappingConfig | null
  },
  payload: unknown,
): Promise<EventDetail['mapped']> {
  if (row.origin === 'reconcile') return mapCanonical(payload)
  const mapper = mapperFor(row)
  if (mapper.fetches && row.fetched === null && mapper.fetches(payload).length > 0)
    return { ok: 'pending', reason: 'the BSS state of this notification has not been fetched yet' }
  return mapper.map(payload, { fetched: row.fetched ?? {}, fetchedAt: row.fetched_at ?? row.received_at })
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
