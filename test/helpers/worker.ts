import type { Redis } from 'ioredis'
import { afterAll } from 'vitest'
import { createBillingWorker } from '../../src/billing/worker.js'
import { type BssClient, createBssClient } from '../../src/callback/client.js'
import type { Logger } from '../../src/log.js'
import { createWorkerRedis } from '../../src/queue/redis.js'
import { createEventWorker, type EventHandler } from '../../src/queue/worker.js'
import { createReconcileWorker } from '../../src/reconcile/schedule.js'
import { fetchForEvents } from '../../src/sync/fetch.js'
import { handleEvents } from '../../src/sync/handler.js'
import { silentLog, type TestApp } from './app.js'
import { REDIS_URL } from './env.js'

/** A worker connection, and the worker built on it, both closed after the file. */
function closedAfterFile<W extends { close(): Promise<void> }>(build: (connection: Redis) => W): W {
  const connection = createWorkerRedis(REDIS_URL, silentLog)
  const worker = build(connection)
  afterAll(async () => {
    await worker.close()
    connection.disconnect()
  })
  return worker
}

/** A BSS client with short timeouts and no long waits, closed after the file. */
export function testBssClient(opts: Parameters<typeof createBssClient>[0] = {}): BssClient {
  const client = createBssClient({
    timeoutMs: 500,
    retries: 1,
    baseDelayMs: 20,
    maxRetryAfterMs: 2000,
    ...opts,
  })
  afterAll(() => client.close())
  return client
}

/**
 * A real BullMQ worker on the test app's queue prefix, closed after the file; with `bss`, thin
 * notifications are fetched from the reseller BSS first, as in production.
 */
export function startTestWorker(
  t: TestApp,
  handle: EventHandler = handleEvents,
  opts: { bss?: BssClient; log?: Logger } = {},
) {
  const { bss } = opts
  return closedAfterFile((connection) =>
    createEventWorker({
      sql: t.db.sql,
      connection,
      prefix: t.deps.config.QUEUE_PREFIX,
      log: opts.log ?? silentLog,
      concurrency: 4,
      handle,
      metrics: t.deps.metrics,
      ...(bss && {
        prepare: (inboxIds: string[]) =>
          fetchForEvents(
            { sql: t.db.sql, box: t.deps.box, client: bss, log: silentLog, now: () => new Date() },
            inboxIds,
          ),
      }),
      enqueue: (refs) => t.enqueue(refs),
    }),
  )
}

/** A real BullMQ reconcile worker on the test app's queue prefix. */
export function startTestReconcileWorker(t: TestApp, bss: BssClient) {
  return closedAfterFile((connection) =>
    createReconcileWorker({
      sql: t.db.sql,
      box: t.deps.box,
      client: bss,
      clock: t.deps.clock,
      log: silentLog,
      enqueue: (refs) => t.enqueue(refs),
      connection,
      prefix: t.deps.config.QUEUE_PREFIX,
    }),
  )
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A real BullMQ billing worker (invoice runs) on the test app's queue prefix. */
export function startTestBillingWorker(t: TestApp) {
  return closedAfterFile((connection) =>
    createBillingWorker({
      sql: t.db.sql,
      connection,
      prefix: t.deps.config.QUEUE_PREFIX,
      log: silentLog,
      clock: t.deps.clock,
    }),
  )
}
