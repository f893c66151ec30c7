import { UnrecoverableError, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { withTimeout } from '../async.js'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import { ReconcileSource, type ReconcileSourceData, reconcileSchedulerId } from '../queue/jobs.js'
import type { Queues } from '../queue/queues.js'
import { type ReconcileDeps, reconcileSource } from './reconcile.js'

/** `POST /v1/sources/{id}/reconcile`: queued now; answers the job id. */
export async function runReconcileNow(queues: Queues, sourceId: string, requestId?: string): Promise<string> {
  try {
    const job = await withTimeout(
      queues.reconcile.add(ReconcileSource.name, { sourceId, requestId } satisfies ReconcileSourceData, {
        ...ReconcileSource.options,
      }),
      5000,
      'redis add',
    )
    return job.id as string
  } catch (err) {
    throw new AppError('queue_unavailable', {
      message: 'the queue is unavailable; try again',
      retryAfter: 5,
      cause: err,
    })
  }
}

/**
 * One BullMQ job scheduler per source with `reconcile_every_minutes`; the others' are removed.
 * Idempotent (upserts), so every worker replica may run it at start and after a change.
 */
export async function syncReconcileSchedules(sql: Sql, queues: Queues): Promise<void> {
  const sources = await sql<{ id: string; every: number | null }[]>`
    select id, case when enabled then reconcile_every_minutes end as every from sources`
  const existing = new Set((await queues.reconcile.getJobSchedulers()).map((s) => s.key))
  for (const s of sources) {
    const id = reconcileSchedulerId(s.id)
    if (s.every) {
      await queues.reconcile.upsertJobScheduler(
        id,
        { every: s.every * 60_000 },
        {
          name: ReconcileSource.name,
          data: { sourceId: s.id } satisfies ReconcileSourceData,
          opts: { attempts: ReconcileSource.options.attempts, backoff: ReconcileSource.options.backoff },
        },
      )
    } else if (existing.has(id)) {
      await queues.reconcile.removeJobScheduler(id)
    }
  }
}

export type ReconcileWorkerDeps = ReconcileDeps & { connection: Redis; prefix: string }

/** Reconciliations, one at a time per worker (each is a long pull from one BSS). */
export function createReconcileWorker(deps: ReconcileWorkerDeps): Worker {
  const worker = new Worker(
    ReconcileSource.queue,
    async (job) => {
      const data = ReconcileSource.schema.safeParse(job.data)
      if (!data.success) throw new UnrecoverableError('malformed job data')
      deps.log.info(
        { source_id: data.data.sourceId, request_id: data.data.requestId ?? null },
        'reconciliation started',
      )
      const report = await reconcileSource(deps, data.data.sourceId)
      return { drifted: report.drifted.length, not_in_bss: report.not_in_bss.length }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1, lockDuration: 120_000 },
  )
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'reconcile worker error'))
  worker.on('failed', (job, err) =>
    deps.log.warn({ job: job?.id, err: err.message }, 'reconciliation failed'),
  )
  return worker
}
