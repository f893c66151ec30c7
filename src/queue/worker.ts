import { type Job, UnrecoverableError, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { jsonParam, type Sql, type Tx } from '../db/client.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { ApplyEvent, type EventRef } from './jobs.js'

export type ClaimedEvent = {
  id: string
  source_id: string
  webhook_id: string
  event_type: string
  body: string
  attempts: number
  origin: 'webhook' | 'reconcile'
  /** Thin notifications: what the BSS answered, by request key (see src/sync/fetch.ts). */
  fetched: Record<string, unknown> | null
  fetched_at: Date | null
  received_at: Date
  /** The request that delivered it: carried into the worker's log lines. */
  request_id: string | null
}

/** How a handler settles an event (besides `failed`, which is thrown). */
export type Settled = {
  status: 'applied' | 'stale' | 'waiting' | 'ignored_unpaid'
  details?: unknown
  /** With `waiting`: the object of the same source the event is parked on. */
  waitingFor?: { kind: 'account' | 'subscription'; id: string }
  /** Parked events this one woke up: queued once the transaction has committed. */
  wake?: EventRef[]
}

/**
 * Applies one claimed event inside `tx`, the same transaction that records its status: a crash at
 * any point leaves all or nothing. Throw `UnrecoverableError` for a payload that can never apply.
 */
export type EventHandler = (tx: Tx, event: ClaimedEvent) => Promise<Settled>

export type EventWorkerDeps = {
  sql: Sql
  connection: Redis
  /** Queues inbox rows (woken events); a failure leaves them to the relay. */
  enqueue: (refs: EventRef[]) => void
  prefix: string
  log: Logger
  concurrency: number
  /** BullMQ lock duration; a crashed worker's jobs are picked up again after it. */
  lockMs?: number
  handle: EventHandler
  /** A step before the apply transaction (the BSS fetch of thin notifications). */
  prepare?: (inboxId: string) => Promise<void>
  metrics?: Metrics
}

export function createEventWorker(deps: EventWorkerDeps): Worker {
  const worker = new Worker(ApplyEvent.queue, (job) => processJob(deps, job), {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    lockDuration: deps.lockMs ?? 30_000,
    stalledInterval: deps.lockMs ?? 30_000,
    // A crash-looping deployment must not fail jobs for good; the row stays the record either way.
    maxStalledCount: 10,
    autorun: true,
  })
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'worker error'))

  return worker
}

export async function processJob(
  deps: Pick<EventWorkerDeps, 'sql' | 'handle' | 'enqueue' | 'prepare' | 'metrics'> & { log?: Logger },
  job: Job,
): Promise<string> {
  const parsed = ApplyEvent.schema.safeParse(job.data)
  if (!parsed.success) throw new UnrecoverableError('malformed job data')
  const { inboxId } = parsed.data
  try {
    await deps.prepare?.(inboxId)
    const settled = await deps.sql.begin(async (tx) => {
      // The row lock makes a second job for the same row (relay re-add, stalled retry) wait, then skip.
      const [event]: [ClaimedEvent?] = await tx`
        update inbox set status = 'processing', attempts = attempts + 1
        where id = ${inboxId} and status in ('received', 'processing')
        returning id, source_id, webhook_id, event_type, body, attempts, origin, fetched, fetched_at, received_at, request_id`
      if (!event) return undefined
      const settled = await deps.handle(tx, event)
      deps.log?.debug(
        {
          request_id: event.request_id,
          inbox_id: event.id,
          source_id: event.source_id,
          status: settled.status,
        },
        'event settled',
      )
      await tx`
        update inbox set status = ${settled.status}, processed_at = now(), error = null,
          error_details = ${settled.details === undefined ? null : jsonParam(tx, settled.details)},
          waiting_for_kind = ${settled.waitingFor?.kind ?? null}, waiting_for_id = ${settled.waitingFor?.id ?? null}
        where id = ${inboxId}`
      return settled
    })
    if (!settled) return 'settled-already'
    deps.metrics?.events.inc({ outcome: settled.status })
    if (settled.wake?.length) deps.enqueue(settled.wake)
    return settled.status
  } catch (err) {
    // A retry-forever error (the BSS is down) never fails the event: the relay brings it back.
    const forever = (err as { retryForever?: boolean }).retryForever === true
    const final =
      !forever && (err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
    await recordFailure(deps.sql, inboxId, err, final)
    deps.metrics?.events.inc({ outcome: final ? 'failed' : 'retry' })
    deps.log?.warn(
      {
        inbox_id: inboxId,
        request_id: await requestIdOf(deps.sql, inboxId),
        final,
        err: (err as Error).message,
      },
      final ? 'event failed' : 'event will be retried',
    )
    throw err
  }
}

async function requestIdOf(sql: Sql, inboxId: string): Promise<string | null> {
  const [row] = await sql<
    { request_id: string | null }[]
  >`select request_id from inbox where id = ${inboxId}`.catch(() => [])
  return row?.request_id ?? null
}

/**
 * Postgres, not Redis, is the record: the reason is written there, with `failed` when no retry is
 * left, else `processing` (picked up, not settled; the job retries with backoff).
 */
async function recordFailure(sql: Sql, inboxId: string, err: unknown, final: boolean): Promise<void> {
  const message = err instanceof Error ? err.message : String(err)
  const details = (err as { details?: unknown }).details ?? null
  await sql`
    update inbox set
      status = case when ${final} then 'failed' else 'processing' end,
      attempts = attempts + 1,
      processed_at = case when ${final} then now() else processed_at end,
      error = ${message.slice(0, 2000)},
      error_details = ${details === null ? null : jsonParam(sql, details)}
    where id = ${inboxId} and status in ('received', 'processing')`.catch(() => {
    // Postgres is down too: the job's own retry (or the relay) brings the row back later.
  })
}
