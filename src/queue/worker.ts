import { type Job, UnrecoverableError, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import postgres from 'postgres'
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
  /** Tries before this one. */
  attempts: number
  origin: 'webhook' | 'reconcile'
  /** Thin notifications: what the BSS answered, by request key (see src/sync/fetch.ts). */
  fetched: Record<string, unknown> | null
  fetched_at: Date | null
  received_at: Date
  /**
   * When it last settled (a woken row), as Postgres's text, exact to the microsecond (a Date keeps
   * milliseconds): what the row keeps if this try is to be retried.
   */
  previously_processed_at: string | null
  /** The request that delivered it: carried into the worker's log lines. */
  request_id: string | null
}

/** How an event settled (besides failing). */
export type Settled = {
  status: 'applied' | 'stale' | 'waiting' | 'ignored_unpaid'
  details?: unknown
  /** With `waiting`: the object of the same source the event is parked on. */
  waitingFor?: { kind: 'account' | 'subscription'; id: string }
}

/** One event's outcome: settled, or the error that stopped it, in which case none of it is kept. */
export type Outcome = Settled | { error: unknown }

export type Handled = {
  /** One per event, in the order given. */
  outcomes: Outcome[]
  /**
   * Parked events the batch woke up: queued once the transaction has committed. A promise when the
   * handler's writes are still in flight: the status corrections are then sent right behind them
   * (one round trip less while the batch holds its locks), and if the writes fail, so does the
   * transaction. The handler may send more statements after them before it resolves: the
   * transaction waits for it either way.
   */
  wake: EventRef[] | Promise<EventRef[]>
}

/**
 * Applies claimed events inside `tx`, the transaction that then records their statuses, each
 * event all-or-nothing. An error outcome is an event's own (`UnrecoverableError`: it can never
 * apply); throwing rolls the whole batch back, and the worker splits it to isolate the cause.
 * Inside `tx` the claimed rows already read as `applied` (see markApplied): a handler must not
 * take an inbox row's status for its progress.
 */
export type EventHandler = (tx: Tx, events: ClaimedEvent[]) => Promise<Handled>

/** A handler of one event at a time, each in a savepoint of its own. */
export function oneByOne(handle: (tx: Tx, event: ClaimedEvent) => Promise<Settled>): EventHandler {
  return async (tx, events) => {
    const outcomes: Outcome[] = []
    for (const event of events) {
      try {
        outcomes.push(await tx.savepoint((sp) => handle(sp, event)))
      } catch (error) {
        outcomes.push({ error })
      }
    }
    return { outcomes, wake: [] }
  }
}

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
  /**
   * A step before the apply transaction (the BSS fetch of thin notifications): the rows it could
   * not prepare, with the reason, are left out of the batch.
   */
  prepare?: (inboxIds: string[]) => Promise<Map<string, unknown>>
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
  // Each failed try of a job (BullMQ tries again while attempts are left). The events' own lines
  // say why they will be retried, but a try can also fail before any event is settled: Postgres
  // unreachable mid-batch, the fetch step. Without this line such a retry left no trace.
  worker.on('failed', (job, err) =>
    deps.log.warn({ job_id: job?.id, attempts: job?.attemptsMade, err: err.message }, 'events job failed'),
  )

  return worker
}

type ProcessDeps = Pick<EventWorkerDeps, 'sql' | 'handle' | 'enqueue' | 'prepare' | 'metrics'> & {
  log?: Logger
}

/** What a job did: settled events by status, and the errors of those it did not settle. */
type Report = { counts: Record<string, number>; retry: unknown[]; failed: unknown[] }

/**
 * Applies a job's rows that are still unsettled, all in one transaction. If the batch fails as a
 * whole (the database refused one event's data), it is split in halves until the event at fault
 * is alone: it fails with the reason, the others apply. Rows left to retry make the job throw,
 * and BullMQ's retry tries those again (settled rows are skipped).
 */
export async function processJob(deps: ProcessDeps, job: Job): Promise<Record<string, number>> {
  const parsed = ApplyEvent.schema.safeParse(job.data)
  if (!parsed.success) throw new UnrecoverableError('malformed job data')
  const ids = parsed.data.inboxIds
  const lastTry = job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
  const unprepared = (await deps.prepare?.(ids)) ?? new Map<string, unknown>()
  const report: Report = { counts: {}, retry: [], failed: [] }
  await applyGroup(deps, ids, { unprepared, lastTry }, report)
  const reason = (errors: unknown[]) =>
    `${errors.length} of ${ids.length} events: ${errors[0] instanceof Error ? errors[0].message : String(errors[0])}`
  if (report.retry.length > 0) throw new Error(`will be retried, ${reason(report.retry)}`)
  if (report.failed.length > 0) throw new UnrecoverableError(`failed, ${reason(report.failed)}`)
  return report.counts
}

type GroupOptions = { unprepared: Map<string, unknown>; lastTry: boolean }

async function applyGroup(
  deps: ProcessDeps,
  ids: string[],
  opts: GroupOptions,
  report: Report,
): Promise<void> {
  let settled: { rows: SettleRow[]; wake: EventRef[] } | undefined
  try {
    settled = await deps.sql.begin(async (tx) => {
      const claimed = await claim(tx, ids)
      const marked = markApplied(tx, claimed)
      const ready = claimed.filter((e) => !opts.unprepared.has(e.id))
      const handled = ready.length > 0 ? await deps.handle(tx, ready) : { outcomes: [], wake: [] }
      const rows = [
        ...ready.map((e, i) => settleRow(e, handled.outcomes[i] ?? { error: new Error('no outcome') }, opts)),
        ...claimed
          .filter((e) => opts.unprepared.has(e.id))
          .map((e) => settleRow(e, { error: opts.unprepared.get(e.id) }, opts)),
      ]
      // All are waited for even when one fails, so no statement is still to be sent once the
      // transaction ends.
      const corrections = rows.filter((r) => !asMarked(r))
      const [wake, ...statuses] = await Promise.allSettled([handled.wake, marked, correct(tx, corrections)])
      if (wake.status === 'rejected') throw wake.reason
      for (const s of statuses) if (s.status === 'rejected') throw s.reason
      return { rows, wake: wake.value }
    })
  } catch (err) {
    if (ids.length > 1 && !unavailable(err)) {
      const half = Math.ceil(ids.length / 2)
      await applyGroup(deps, ids.slice(0, half), opts, report)
      await applyGroup(deps, ids.slice(half), opts, report)
      return
    }
    if (ids.length > 1) throw err // Postgres is unreachable: the job's retry brings them all back
    const id = ids[0] as string
    const final = isFinal(err, opts.lastTry)
    await recordFailure(deps.sql, id, err, final)
    ;(final ? report.failed : report.retry).push(err)
    deps.metrics?.events.inc({ outcome: final ? 'failed' : 'retry' })
    deps.log?.warn(
      { inbox_id: id, request_id: await requestIdOf(deps.sql, id), final, err: (err as Error).message },
      final ? 'event failed' : 'event will be retried',
    )
    return
  }
  for (const row of settled.rows) {
    const outcome = row.error === null ? row.status : row.status === 'failed' ? 'failed' : 'retry'
    report.counts[row.status] = (report.counts[row.status] ?? 0) + 1
    if (row.cause !== undefined) (row.status === 'failed' ? report.failed : report.retry).push(row.cause)
    deps.metrics?.events.inc({ outcome })
    if (row.error === null) {
      deps.log?.debug(
        { request_id: row.request_id, inbox_id: row.id, source_id: row.source_id, status: row.status },
        'event settled',
      )
    } else {
      deps.log?.warn(
        { inbox_id: row.id, request_id: row.request_id, final: row.status === 'failed', err: row.error },
        row.status === 'failed' ? 'event failed' : 'event will be retried',
      )
    }
  }
  if (settled.wake.length > 0) deps.enqueue(settled.wake)
}

/**
 * Locks the job's rows that are still unsettled, in id order. A row another transaction holds (a
 * second job for the same row: a relay re-add, a stalled retry) is waited for, then skipped if
 * that one settled it.
 */
async function claim(tx: Tx, ids: readonly string[]): Promise<ClaimedEvent[]> {
  return tx<ClaimedEvent[]>`
    select id::text, source_id, webhook_id, event_type, body, attempts, origin, fetched, fetched_at, received_at,
      processed_at::text as previously_processed_at, request_id
    from inbox
    where id = any(${ids}::bigint[]) and status in ('received', 'processing')
    order by id
    for update`
}

type SettleRow = {
  id: string
  source_id: string
  request_id: string | null
  /** `processing` for an event to retry. */
  status: Settled['status'] | 'failed' | 'processing'
  error: string | null
  error_details: unknown
  waiting_for_kind: string | null
  waiting_for_id: string | null
  /** The row's processed_at before this try: what a row to retry keeps. */
  previously_processed_at: string | null
  cause?: unknown
}

// Every field written out, not spread from a common part: V8 built these rows ~50 times slower
// from a spread followed by new fields (3.4 against 0.05 µs a row, 500-row micro-benchmark), a
// few percent of the worker's CPU per event.
function settleRow(event: ClaimedEvent, outcome: Outcome, opts: { lastTry: boolean }): SettleRow {
  if ('error' in outcome) {
    const err = outcome.error
    return {
      id: event.id,
      source_id: event.source_id,
      request_id: event.request_id,
      previously_processed_at: event.previously_processed_at,
      status: isFinal(err, opts.lastTry) ? 'failed' : 'processing',
      error: (err instanceof Error ? err.message : String(err)).slice(0, 2000),
      error_details: (err as { details?: unknown } | undefined)?.details ?? null,
      waiting_for_kind: null,
      waiting_for_id: null,
      cause: err,
    }
  }
  return {
    id: event.id,
    source_id: event.source_id,
    request_id: event.request_id,
    previously_processed_at: event.previously_processed_at,
    status: outcome.status,
    error: null,
    error_details: outcome.details ?? null,
    waiting_for_kind: outcome.waitingFor?.kind ?? null,
    waiting_for_id: outcome.waitingFor?.id ?? null,
  }
}

/**
 * Every claimed row marked applied, counted as tried, as soon as it is claimed: the outcome of
 * nearly every event. The statement runs while the batch maps its events and waits for its object
 * locks, not at the end while it holds them: each row's update writes a new version of the row
 * and of its five index entries (the status is indexed), ~15 µs an event of Postgres that used to
 * lengthen the window in which the next batch waits for these locks. Rows that end otherwise are
 * corrected before the commit; a rollback undoes both. Not awaited here: sent, and waited for with
 * the batch's last statements (a failure meanwhile must not go unhandled, hence the catch).
 */
function markApplied(tx: Tx, claimed: readonly ClaimedEvent[]): Promise<unknown> {
  if (claimed.length === 0) return Promise.resolve()
  const marked = tx`
    update inbox set status = 'applied', attempts = attempts + 1, processed_at = now(), error = null,
      error_details = null, waiting_for_kind = null, waiting_for_id = null
    where id = any(${claimed.map((e) => e.id)}::bigint[])`.execute()
  marked.catch(() => {})
  return marked
}

/** Whether a row settled as markApplied left it: applied, with nothing more to say. */
const asMarked = (r: SettleRow) =>
  r.status === 'applied' && r.error === null && r.error_details === null && r.waiting_for_kind === null

/**
 * The rows that did not end as markApplied left them (stale, waiting, unpaid, failed, to retry,
 * or applied with details), set to their outcome; already counted as tried. A row to retry is
 * picked up, not settled, so it keeps the processed_at it had before this try.
 */
async function correct(tx: Tx, rows: readonly SettleRow[]): Promise<void> {
  if (rows.length === 0) return
  const values = rows.map((r) => ({
    id: r.id,
    status: r.status,
    error: r.error,
    error_details: r.error_details,
    waiting_for_kind: r.waiting_for_kind,
    waiting_for_id: r.waiting_for_id,
    previously_processed_at: r.previously_processed_at,
  }))
  await tx`
    update inbox i set status = x.status,
      processed_at = case when x.status = 'processing' then x.previously_processed_at else i.processed_at end,
      error = x.error, error_details = x.error_details,
      waiting_for_kind = x.waiting_for_kind, waiting_for_id = x.waiting_for_id
    from jsonb_to_recordset(${jsonParam(tx, values)}::jsonb) as x(id bigint, status text, error text,
      error_details jsonb, waiting_for_kind text, waiting_for_id text, previously_processed_at timestamptz)
    where i.id = x.id`
}

/** A retry-forever error (the BSS is down) never fails the event: the relay brings it back. */
function isFinal(err: unknown, lastTry: boolean): boolean {
  if ((err as { retryForever?: boolean } | undefined)?.retryForever === true) return false
  // A deadlock, a serialization failure or a lock not granted says nothing about the event.
  if (err instanceof postgres.PostgresError && /^(40|55P03)/.test(err.code)) return false
  return err instanceof UnrecoverableError || lastTry
}

/** The driver's own connection errors (no answer from Postgres at all). */
const CONNECTION_ERRORS = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
])

/**
 * Postgres unreachable or shutting down: no batch of any size would do better. (Out of shared
 * memory, say too many locks, or a statement timeout is split: a smaller batch may pass.)
 */
function unavailable(err: unknown): boolean {
  if (err instanceof postgres.PostgresError) return /^(08|57P0[123])/.test(err.code)
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && CONNECTION_ERRORS.has(code)
}

async function requestIdOf(sql: Sql, inboxId: string): Promise<string | null> {
  const [row] = await sql<
    { request_id: string | null }[]
  >`select request_id from inbox where id = ${inboxId}`.catch(() => [])
  return row?.request_id ?? null
}

/**
 * The reason of an event whose transaction failed, written on its own: `failed` when no retry is
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
