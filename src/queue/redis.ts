import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from '../log.js'

/**
 * Where Redis is: a URL, or Sentinel (`REDIS_SENTINELS=host:port,...` and the master's name),
 * in which case the URL still gives the password and database and ioredis follows failovers.
 */
export type RedisTarget = { url: string; sentinels?: string | undefined; sentinelName?: string | undefined }

function connect(target: RedisTarget | string, options: RedisOptions): Redis {
  const t = typeof target === 'string' ? { url: target } : target
  if (!t.sentinels) return new Redis(t.url, options)
  const url = new URL(t.url)
  return new Redis({
    ...options,
    sentinels: t.sentinels.split(',').map((hp) => {
      const [host = '127.0.0.1', port = '26379'] = hp.trim().split(':')
      return { host, port: Number(port) }
    }),
    name: t.sentinelName ?? 'mymaster',
    ...(url.password && { password: decodeURIComponent(url.password) }),
    ...(url.username && { username: decodeURIComponent(url.username) }),
    db: Number(url.pathname.slice(1) || 0),
  })
}

/**
 * Producer connection: fails fast when Redis is down (no offline queue, one retry), so a request
 * never waits on Redis; the inbox row already holds the event and the relay queues it later.
 */
export function createProducerRedis(target: RedisTarget | string, log: Logger): Redis {
  return logErrors(
    connect(target, {
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
export function createWorkerRedis(target: RedisTarget | string, log: Logger): Redis {
  return logErrors(
    connect(target, {
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
