import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { systemClock } from '../src/clock.js'
import { createQueues } from '../src/queue/queues.js'
import { createProducerRedis } from '../src/queue/redis.js'
import { generateEvents } from '../src/sim/generate.js'
import { createSecretBox } from '../src/sources/secret-box.js'
import { createSource, NewSource } from '../src/sources/sources.js'
import { microsEach, postgresCpu } from './cpu.js'
import { dropDatabase, freshDatabase } from './db.js'
import { startProcess } from './servers.js'

export type ApplyResult = {
  events: number
  subscriptions: number
  seconds: number
  events_per_second: number
  statuses: Record<string, number>
  worker_peak_rss_mb: number
  /** CPU per event, of the worker process and of Postgres (its backends for this database). */
  worker_cpu_us_per_event: number
  postgres_cpu_us_per_event: number
}

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Apply: `events` canonical events already in the inbox, each with its job queued (as ingest
 * leaves them), drained by one worker process into canonical rows and history.
 */
export async function benchApply(events: number, subscriptions: number): Promise<ApplyResult> {
  const name = 'tiersync_bench_apply'
  const { url, sql } = await freshDatabase(name)
  const log = pino({ level: 'silent' })
  const secretsKey = randomBytes(16).toString('hex')
  const { source } = await createSource(
    { sql, box: createSecretBox(secretsKey), clock: systemClock },
    NewSource.parse({ name: 'bench', reseller: { name: 'Bench Reseller' } }),
  )
  const deliveries = generateEvents({ events, subscriptions, seed: 7 })
  const ids: { id: string; generation: number }[] = []
  for (let i = 0; i < deliveries.length; i += 5000) {
    const chunk = deliveries.slice(i, i + 5000)
    const bodies = chunk.map((d) => d.body)
    const rows = await sql<{ id: string; generation: number }[]>`
      insert into inbox (source_id, webhook_id, event_type, occurred_at, object_id, body, enqueued_at)
      select ${source.id}, w, (b::jsonb)->>'type', ((b::jsonb)->>'occurred_at')::timestamptz, (b::jsonb)->'data'->>'id', b,
        now()
      from unnest(${chunk.map((d) => d.webhookId)}::text[], ${bodies}::text[]) as x(w, b)
      returning id::text, generation`
    ids.push(...rows)
  }
  // Only the table loaded here. Statistics taken of the still-empty tables the worker fills would
  // let Postgres plan each foreign-key check on them as a scan of a table it believes tiny, and keep
  // that plan for the whole run (cached per connection until the next analyze, which with
  // autovacuum on comes as the table grows; this machine runs with it off).
  await sql`vacuum analyze inbox`
  const prefix = `bench-${randomBytes(4).toString('hex')}`
  const redis = createProducerRedis(REDIS_URL, log)
  const queues = createQueues(redis, prefix, log)
  for (let i = 0; i < ids.length; i += 1000) await queues.enqueueEvents(ids.slice(i, i + 1000))

  // The production build, as `npm run start:prod` runs it (ROLE=worker).
  const worker = await startProcess(
    'dist/main.js',
    {
      DATABASE_URL: url,
      REDIS_URL,
      ROLE: 'worker',
      LOG_LEVEL: 'info',
      SECRETS_KEY: secretsKey,
      QUEUE_PREFIX: prefix,
      ...(process.env.BENCH_WORKER_CONCURRENCY && {
        WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY,
      }),
    },
    /"msg":"worker (started)"/,
  )
  // From the worker being up (its module loading is not apply time).
  const started = performance.now()
  const pg = postgresCpu(sql, name)
  const [workerCpu0, pg0] = [worker.cpuSeconds(), await pg.sample()]
  // Polled cheaply (the first unsettled row, through the partial index), so the poll does not
  // take CPU from the worker it measures; the statuses are counted once, at the end.
  for (;;) {
    const [row] = await sql<{ busy: boolean }[]>`
      select exists (select 1 from inbox where status in ('received', 'processing')) as busy`
    if (!row?.busy) break
    await sleep(100)
  }
  const seconds = (performance.now() - started) / 1000
  const [workerCpu, pgCpu] = [worker.cpuSeconds() - workerCpu0, await pg.since(pg0)]
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from inbox group by status`
  const statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]))
  const rss = worker.peakRssMb()
  await worker.stop()
  await queues.events.obliterate({ force: true }).catch(() => {})
  await queues.close()
  redis.disconnect()
  await sql.end()
  await dropDatabase(name)
  return {
    events: ids.length,
    subscriptions,
    seconds: Math.round(seconds * 100) / 100,
    events_per_second: Math.round(ids.length / seconds),
    statuses,
    worker_peak_rss_mb: rss,
    worker_cpu_us_per_event: microsEach(workerCpu, ids.length),
    postgres_cpu_us_per_event: microsEach(pgCpu, ids.length),
  }
}
