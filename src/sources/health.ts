import type { Redis } from 'ioredis'
import type { Sql } from '../db/client.js'

/** Deliveries refused after the source was found: what a reseller's integration gets wrong. */
const REJECTIONS = [
  'signature_headers_missing',
  'signature_invalid',
  'timestamp_out_of_tolerance',
  'invalid_json',
  'invalid_event',
  'rate_limited',
] as const
export type Rejection = (typeof REJECTIONS)[number]

export function isRejection(outcome: string): outcome is Rejection {
  return (REJECTIONS as readonly string[]).includes(outcome)
}

type HealthDeps = { redis: Redis; queues: { prefix: string } }

const HOUR = 3600_000
const key = (prefix: string, sourceId: string, hour: number) => `${prefix}:rejections:${sourceId}:${hour}`

/**
 * Counted in Redis per source and hour (kept two days), off the request path and failing open:
 * refused deliveries are never written to Postgres, so a flood of bad signatures costs no writes.
 */
export function recordRejection(deps: HealthDeps, sourceId: string, code: Rejection): void {
  const k = key(deps.queues.prefix, sourceId, Math.floor(Date.now() / HOUR))
  deps.redis
    .multi()
    .hincrby(k, code, 1)
    .expire(k, 48 * 3600)
    .exec()
    .catch(() => {})
}

export type SourceHealth = {
  /** Refused deliveries of the last 24 hours by code; null when Redis could not say. */
  rejections_24h: Partial<Record<Rejection, number>> | null
  events: { received: number; processing: number; waiting: number; failed: number }
  last_event_at: string | null
  last_applied_at: string | null
}

export async function sourceHealth(deps: HealthDeps & { sql: Sql }, sourceId: string): Promise<SourceHealth> {
  const now = Math.floor(Date.now() / HOUR)
  const [counts, rejections] = await Promise.all([
    deps.sql<
      {
        received: number
        processing: number
        waiting: number
        failed: number
        last_event_at: Date | null
        last_applied_at: Date | null
      }[]
    >`
      select
        (select count(*)::int from inbox where source_id = ${sourceId} and status = 'received') as received,
        (select count(*)::int from inbox where source_id = ${sourceId} and status = 'processing') as processing,
        (select count(*)::int from inbox where source_id = ${sourceId} and status = 'waiting') as waiting,
        (select count(*)::int from inbox where source_id = ${sourceId} and status = 'failed') as failed,
        (select max(received_at) from inbox where source_id = ${sourceId}) as last_event_at,
        (select max(processed_at) from inbox where source_id = ${sourceId} and status = 'applied') as last_applied_at`,
    (async () => {
      const pipeline = deps.redis.pipeline()
      for (let h = now - 23; h <= now; h++) pipeline.hgetall(key(deps.queues.prefix, sourceId, h))
      const results = await pipeline.exec()
      const sum: Partial<Record<Rejection, number>> = {}
      for (const [err, hash] of results ?? []) {
        if (err) throw err
        for (const [code, n] of Object.entries(hash as Record<string, string>)) {
          if (isRejection(code)) sum[code] = (sum[code] ?? 0) + Number(n)
        }
      }
      return sum
    })().catch(() => null),
  ])
  const c = counts[0]
  return {
    rejections_24h: rejections,
    events: {
      received: c?.received ?? 0,
      processing: c?.processing ?? 0,
      waiting: c?.waiting ?? 0,
      failed: c?.failed ?? 0,
    },
    last_event_at: c?.last_event_at?.toISOString() ?? null,
    last_applied_at: c?.last_applied_at?.toISOString() ?? null,
  }
}
