import { Redis } from 'ioredis'
import type { Logger } from '../log.js'

/**
 * Producer connection: fails fast when Redis is down (no offline queue, one retry), so a request
 * never waits on Redis; the inbox row already holds the event and the relay queues it later.
 */
export function createProducerRedis(url: string, log: Logger): Redis {
  return logErrors(
    new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 1000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      lazyConnect: false,
    }),
    log,
  )
}

/** Worker connection: BullMQ's blocking commands need `maxRetriesPerRequest: null`. */
export function createWorkerRedis(url: string, log: Logger): Redis {
  return logErrors(
    new Redis(url, {
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    }),
    log,
  )
}

/** An unhandled 'error' event would crash the process; a lost connection is expected and retried. */
function logErrors(redis: Redis, log: Logger): Redis {
  let last = 0
  redis.on('error', (err) => {
    const now = Date.now()
    if (now - last > 5000) log.warn({ err: err.message }, 'redis connection error')
    last = now
  })
  return redis
}
