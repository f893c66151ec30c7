import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerType } from '@hono/node-server'
import type { Worker } from 'bullmq'
import { createApp } from './app.js'
import { bootstrapAdminKey } from './auth/api-keys.js'
import { createBillingWorker, scheduleMonthlyRun } from './billing/worker.js'
import { createBssClient } from './callback/client.js'
import { type Clock, systemClock } from './clock.js'
import type { Config } from './config.js'
import { createSql, ensureDatabase } from './db/client.js'
import { migrate } from './db/migrate.js'
import { warnAboutServerSettings } from './db/server-settings.js'
import type { Deps } from './deps.js'
import { createInboxWriter } from './inbox/inbox-writer.js'
import { createEnqueuer, type Relay, startRelay } from './inbox/relay.js'
import { createLogger, type Logger } from './log.js'
import { createMetrics, registerStateGauges } from './metrics.js'
import { createQueues } from './queue/queues.js'
import { createProducerRedis, createWorkerRedis } from './queue/redis.js'
import { createEventWorker } from './queue/worker.js'
import { createReconcileWorker, syncReconcileSchedules } from './reconcile/schedule.js'
import { serveApi } from './server.js'
import { createSourceCache } from './sources/cache.js'
import { createSecretBox } from './sources/secret-box.js'
import { fetchForEvents } from './sync/fetch.js'
import { handleEvents } from './sync/handler.js'

export type Running = {
  deps: Deps
  /** The port the API listens on (when this process runs the API). */
  port: number | undefined
  /** The bootstrap admin key, when this start generated one. */
  generatedAdminKey: string | undefined
  stop(): Promise<void>
}

export type StartOptions = { clock?: Clock; log?: Logger }

/** Builds the real clients and starts what `ROLE` asks for. Used by src/main.ts and by process tests. */
export async function start(config: Config, opts: StartOptions = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL)
  await ensureDatabase(config.DATABASE_URL)
  const sql = createSql(config.DATABASE_URL, { max: 20 })
  const applied = await migrate(sql)
  if (applied.length > 0) log.info({ applied }, 'migrations applied')
  await warnAboutServerSettings(sql, log)
  const generatedAdminKey = await bootstrapAdminKey(sql, config.ADMIN_API_KEY)

  const redisTarget = {
    url: config.REDIS_URL,
    sentinels: config.REDIS_SENTINELS,
    sentinelName: config.REDIS_SENTINEL_NAME,
  }
  const redis = createProducerRedis(redisTarget, log)
  // Start even when Redis is down (the inbox holds events; the relay queues them later), but
  // give it a moment so the queue does not begin with a burst of connection errors.
  await Promise.race([once(redis, 'ready'), sleep(2000)])
  const queues = createQueues(redis, config.QUEUE_PREFIX, log)
  const inbox = createInboxWriter(sql)
  const enqueuer = createEnqueuer({ sql, queues, log })
  // Rows woken by the worker go ahead of the backlog (see EnqueuerOptions.front), after a short
  // window: each batch wakes its rows at once, so a longer one would gather little and only make
  // parked events wait (the API's 20 ms is for its many small group commits).
  const wakeEnqueuer = createEnqueuer({ sql, queues, log }, { front: true, windowMs: 5 })
  inbox.onCommitted((refs) => enqueuer.enqueue(refs))
  const metrics = createMetrics()
  registerStateGauges(metrics, { sql, queues })
  const deps: Deps = {
    config,
    sql,
    redis,
    queues,
    inbox,
    box: createSecretBox(config.SECRETS_KEY),
    clock: opts.clock ?? systemClock,
    log,
    metrics,
    sourceCache: createSourceCache(5000),
  }

  let server: ServerType | undefined
  let port: number | undefined
  if (config.ROLE !== 'worker') {
    const app = createApp(deps)
    server = await serveApi(deps, app, { port: config.PORT, hostname: '0.0.0.0' })
    port = (server.address() as AddressInfo).port
    log.info({ port }, 'api listening')
  }

  let worker: Worker | undefined
  let billingWorker: Worker | undefined
  let reconcileWorker: Worker | undefined
  const bss = createBssClient({ timeoutMs: config.BSS_TIMEOUT_MS })
  let relay: Relay | undefined
  let workerRedis: ReturnType<typeof createWorkerRedis> | undefined
  if (config.ROLE !== 'api') {
    workerRedis = createWorkerRedis(redisTarget, log)
    worker = createEventWorker({
      sql,
      connection: workerRedis,
      prefix: config.QUEUE_PREFIX,
      log,
      concurrency: config.WORKER_CONCURRENCY,
      lockMs: config.WORKER_LOCK_MS,
      handle: handleEvents,
      metrics,
      prepare: (inboxIds) =>
        fetchForEvents({ sql, box: deps.box, client: bss, log, now: () => deps.clock.now() }, inboxIds),
      enqueue: (refs) => wakeEnqueuer.enqueue(refs),
    })
    reconcileWorker = createReconcileWorker({
      sql,
      box: deps.box,
      client: bss,
      clock: deps.clock,
      log,
      enqueue: (refs) => enqueuer.enqueue(refs),
      connection: workerRedis,
      prefix: config.QUEUE_PREFIX,
    })
    await syncReconcileSchedules(sql, queues).catch((err: unknown) =>
      log.warn(
        { err: (err as Error).message },
        'could not schedule reconciliations; will retry at next start',
      ),
    )
    billingWorker = createBillingWorker({
      sql,
      connection: workerRedis,
      prefix: config.QUEUE_PREFIX,
      log,
      clock: deps.clock,
      metrics,
    })
    await scheduleMonthlyRun(queues, config.INVOICE_RUN_DAY).catch((err: unknown) =>
      log.warn(
        { err: (err as Error).message },
        'could not schedule the monthly invoice run; will retry at next start',
      ),
    )
    relay = startRelay(
      { sql, queues, log },
      {
        intervalMs: 5000,
        afterSeconds: config.RELAY_AFTER_SECONDS,
        waitingExpireSeconds: config.WAITING_EXPIRE_HOURS * 3600,
      },
    )
    log.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker started')
  }

  let stopping: Promise<void> | undefined
  return {
    deps,
    port,
    generatedAdminKey,
    stop() {
      // Order: stop taking requests, finish jobs in hand, then close queues, Redis, Postgres.
      stopping ??= (async () => {
        if (server) {
          const s = server
          await new Promise<void>((resolve) => s.close(() => resolve()))
        }
        await Promise.all([worker?.close(), billingWorker?.close(), reconcileWorker?.close()])
        await bss.close()
        await relay?.stop()
        await Promise.all([enqueuer.drain(), wakeEnqueuer.drain()])
        await queues.close()
        await Promise.allSettled([redis.quit(), workerRedis?.quit()])
        await sql.end({ timeout: 5 })
        log.info('stopped')
      })()
      return stopping
    },
  }
}
