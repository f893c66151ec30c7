import type { Sql } from '../db/client.js'
import type { Logger } from '../log.js'
import type { EventRef } from '../queue/jobs.js'
import type { Queues } from '../queue/queues.js'

export type RelayDeps = { sql: Sql; queues: Queues; log: Logger }

/** Queues the committed rows and records that they were queued. */
export async function enqueueRows(deps: RelayDeps, refs: readonly EventRef[]): Promise<void> {
  if (refs.length === 0) return
  await deps.queues.enqueueEvents(refs)
  await markQueued(deps.sql, refs)
}

/**
 * Records that rows were queued, at the generation queued (a row queued anew since keeps its
 * own mark). Only a hint for the relay, so rows a worker holds are skipped rather than waited
 * for, and the rows are locked in id order, as the worker's claim does: no deadlock with it.
 */
async function markQueued(sql: RelayDeps['sql'], refs: readonly EventRef[]): Promise<void> {
  await sql`
    update inbox set enqueued_at = now()
    where id in (
      select i.id from inbox i
      join unnest(${sql.array(refs.map((r) => r.id))}::bigint[], ${sql.array(refs.map((r) => r.generation))}::int[])
        as r(id, generation) on i.id = r.id and i.generation = r.generation
      order by i.id
      for update skip locked)`
}

const PAGE = 1000

/** A job whose row is still unsettled this long after queueing is presumed lost (failed or evicted). */
const STUCK_AFTER = '10 minutes'

/**
 * Finds committed rows whose job may be missing and queues them: rows never queued (Redis was
 * down at commit); rows queued long ago and still unsettled, under a new generation so a job
 * BullMQ gave up on (stalled too often, evicted) does not block the re-add; and, with
 * `everything`, every unsettled row (after Redis came back, possibly empty). Re-adding a group whose
 * job still exists is a no-op; rows grouped otherwise get a second job, which changes nothing
 * (the worker locks the rows and skips the settled ones).
 */
export async function sweep(
  deps: RelayDeps,
  opts: { afterSeconds: number; everything: boolean },
): Promise<number> {
  const { sql } = deps
  let total = 0
  for (;;) {
    // Marked queued in the same statement, so a slow or failed add is not bumped again next sweep.
    const stuck = await sql<EventRef[]>`
      update inbox set generation = generation + 1, enqueued_at = now()
      where id in (
        select id from inbox
        where status in ('received', 'processing') and enqueued_at < now() - ${STUCK_AFTER}::interval
        order by id limit ${PAGE} for update skip locked)
      returning id, generation`
    if (stuck.length > 0) await deps.queues.enqueueEvents(stuck)
    total += stuck.length
    if (stuck.length < PAGE) break
  }
  let after = '0'
  for (;;) {
    const rows = await sql<EventRef[]>`
      select id, generation from inbox
      where status in ('received', 'processing') and id > ${after}
        and received_at < now() - make_interval(secs => ${opts.afterSeconds})
        and (${opts.everything} or enqueued_at is null)
      order by id limit ${PAGE}`
    if (rows.length === 0) return total
    await enqueueRows(deps, rows)
    total += rows.length
    after = (rows[rows.length - 1] as EventRef).id
    if (rows.length < PAGE) return total
  }
}

/**
 * A parked event whose object never arrives must not wait forever unseen: after the limit it ends
 * `failed` with the reason (typically an id outside this source's tree), and can be replayed.
 */
export async function expireWaiting(sql: RelayDeps['sql'], afterSeconds: number): Promise<number> {
  const rows = await sql`
    update inbox set status = 'failed',
      error = 'waited ' || round(extract(epoch from now() - processed_at) / 3600, 1) || ' h for ' || waiting_for_kind
        || ' ' || waiting_for_id || ', which never arrived in this source''s tree'
    where status = 'waiting' and processed_at < now() - make_interval(secs => ${afterSeconds})
    returning id`
  return rows.length
}

export type Relay = { stop(): Promise<void>; sweepNow(everything?: boolean): Promise<number> }

/**
 * The relay loop: a periodic sweep, plus a full sweep whenever the producer connection comes back
 * after losing Redis (Redis may have restarted without its data).
 */
export function startRelay(
  deps: RelayDeps,
  opts: { intervalMs: number; afterSeconds: number; waitingExpireSeconds?: number },
): Relay {
  let running: Promise<number> | undefined
  let stopped = false
  let lostRedis = false
  const run = (everything: boolean) => {
    running ??= sweep(deps, { afterSeconds: everything ? 0 : opts.afterSeconds, everything })
      .then(async (n) => {
        const expired = await expireWaiting(deps.sql, opts.waitingExpireSeconds ?? 72 * 3600)
        if (expired > 0) deps.log.warn({ expired }, 'parked events expired')
        if (n > 0) deps.log.info({ queued: n, everything }, 'relay queued inbox rows')
        return n
      })
      .catch((err: unknown) => {
        deps.log.warn({ err: (err as Error).message }, 'relay sweep failed; will retry')
        return 0
      })
      .finally(() => {
        running = undefined
      })
    return running
  }
  const timer = setInterval(() => {
    if (!stopped) void run(false)
  }, opts.intervalMs)
  timer.unref()
  const redis = deps.queues.connection
  const onClose = () => {
    lostRedis = true
  }
  const onReady = () => {
    if (!lostRedis || stopped) return
    lostRedis = false
    void run(true)
  }
  redis.on('close', onClose)
  redis.on('ready', onReady)
  return {
    sweepNow: (everything = false) => run(everything),
    async stop() {
      stopped = true
      clearInterval(timer)
      redis.off('close', onClose)
      redis.off('ready', onReady)
      await running
    },
  }
}

export type EnqueuerOptions = {
  /**
   * Rows committed within this window share one job (and so fill the worker's batches). Each add
   * costs the API ~110 µs of CPU whatever the job's size, so under load the window is what keeps
   * the queue's share of a delivery small: 20 ms is ~1 µs a delivery at 9,000 a second (5 ms
   * was ~4.5), and an event waits at most that long more before a worker can take it.
   */
  windowMs?: number
  /**
   * Queue ahead of the jobs waiting: for woken rows, so an event parked on an object applies
   * right after it, not behind a whole backlog that may bring newer versions of its own object.
   */
  front?: boolean
}

/**
 * Clears the queued mark of rows that could not be queued (Redis down), so the relay queues them
 * after `RELAY_AFTER_SECONDS`; only at the generation written, so a row the relay has queued
 * anew meanwhile keeps its mark.
 */
async function unmarkQueued(sql: RelayDeps['sql'], refs: readonly EventRef[]): Promise<void> {
  await sql`
    update inbox i set enqueued_at = null
    from unnest(${sql.array(refs.map((r) => r.id))}::bigint[], ${sql.array(refs.map((r) => r.generation))}::int[])
      as r(id, generation)
    where i.id = r.id and i.generation = r.generation and i.status = 'received'`
}

/**
 * Queues rows right after their commit, off the request path: the rows of the group commits of
 * a few milliseconds go to Redis together. It expects rows its callers wrote already marked
 * queued (the inbox writer, the worker's wake-ups, reconciliation), since it does not mark them;
 * a failure (Redis down) is logged and the rows unmarked, so the relay queues them later. A row
 * marked but never queued (the process died in those few milliseconds, or the unmark failed
 * too) is queued again by the relay once unsettled for 10 minutes: late, never lost.
 */
export function createEnqueuer(deps: RelayDeps, opts: EnqueuerOptions = {}) {
  const windowMs = opts.windowMs ?? 20
  const pending = new Set<Promise<void>>()
  let waiting: EventRef[] = []
  let sendTimer: NodeJS.Timeout | undefined
  const track = (p: Promise<void>) => {
    pending.add(p)
    void p.finally(() => pending.delete(p))
  }

  const send = () => {
    clearTimeout(sendTimer)
    sendTimer = undefined
    const refs = waiting
    waiting = []
    if (refs.length === 0) return
    track(
      deps.queues.enqueueEvents(refs, { front: opts.front ?? false }).catch(async (err: unknown) => {
        deps.log.warn({ err: (err as Error).message, rows: refs.length }, 'enqueue deferred to relay')
        await unmarkQueued(deps.sql, refs).catch((unmarkErr: unknown) =>
          deps.log.warn(
            { err: (unmarkErr as Error).message, rows: refs.length },
            'unmarking rows not queued failed; the relay queues them after 10 minutes',
          ),
        )
      }),
    )
  }

  return {
    enqueue(refs: EventRef[]) {
      waiting.push(...refs)
      sendTimer ??= setTimeout(send, windowMs)
    },
    /** Sends what is waiting, and waits for it (graceful shutdown, tests). */
    async drain() {
      send()
      while (pending.size > 0) await Promise.all(pending)
    },
  }
}
