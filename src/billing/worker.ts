import { UnrecoverableError, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Clock } from '../clock.js'
import type { Sql } from '../db/client.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { InvoiceRun, MONTHLY_INVOICE_SCHEDULER } from '../queue/jobs.js'
import type { Queues } from '../queue/queues.js'
import { addMonthsToPeriod } from './calendar.js'
import { createRun, executeRun } from './runs.js'

export type BillingWorkerDeps = {
  sql: Sql
  connection: Redis
  prefix: string
  log: Logger
  clock: Clock
  metrics?: Metrics
}

/** Runs invoice runs one at a time per worker; a run locks each reseller it refreshes anyway. */
export function createBillingWorker(deps: BillingWorkerDeps): Worker {
  const worker = new Worker(
    InvoiceRun.queue,
    async (job) => {
      const data = InvoiceRun.schema.safeParse(job.data)
      if (!data.success) throw new UnrecoverableError('malformed job data')
      let runId = data.data.runId
      if (!runId) {
        // The monthly scheduler bills the month that just ended.
        const now = deps.clock.now()
        const period = addMonthsToPeriod(now.toISOString().slice(0, 7), -1)
        runId = await createRun(deps.sql, { period })
        await job.updateData({ runId })
      }
      const started = performance.now()
      deps.log.info({ run_id: runId, request_id: data.data.requestId ?? null }, 'invoice run started')
      const report = await executeRun(deps, runId).catch((err: unknown) => {
        deps.metrics?.invoiceRuns.observe({ status: 'failed' }, (performance.now() - started) / 1000)
        throw err
      })
      deps.metrics?.invoiceRuns.observe({ status: 'succeeded' }, (performance.now() - started) / 1000)
      return { runId, resellers: report.resellers, lines_added: report.lines_added }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1, lockDuration: 120_000 },
  )
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'billing worker error'))
  worker.on('failed', (job, err) => deps.log.error({ job: job?.id, err: err.message }, 'invoice run failed'))
  return worker
}

/** The monthly invoice run as a BullMQ job scheduler (idempotent upsert: safe from every replica). */
export async function scheduleMonthlyRun(queues: Queues, dayOfMonth: number): Promise<void> {
  await queues.billing.upsertJobScheduler(
    MONTHLY_INVOICE_SCHEDULER,
    { pattern: `0 3 ${dayOfMonth} * *`, tz: 'UTC' },
    {
      name: InvoiceRun.name,
      data: { scheduled: true },
      opts: { attempts: InvoiceRun.options.attempts, backoff: InvoiceRun.options.backoff },
    },
  )
}
