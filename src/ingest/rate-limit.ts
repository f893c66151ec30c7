import type { Redis } from 'ioredis'

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

/**
 * Fixed one-minute window per source in Redis, shared by every API replica. Fails open: when
 * Redis cannot answer, the delivery is let through (the inbox, not Redis, protects the data).
 */
export async function checkRateLimit(
  redis: Redis,
  prefix: string,
  sourceId: string,
  limitPerMinute: number,
  nowMs: number,
): Promise<RateDecision> {
  if (limitPerMinute <= 0) return { allowed: true }
  const window = Math.floor(nowMs / 60_000)
  const key = `${prefix}:rate:${sourceId}:${window}`
  try {
    const [[err, count] = [null, 0]] = (await redis.multi().incr(key).expire(key, 120).exec()) ?? []
    if (err || typeof count !== 'number' || count <= limitPerMinute) return { allowed: true }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil(((window + 1) * 60_000 - nowMs) / 1000)),
    }
  } catch {
    return { allowed: true }
  }
}
