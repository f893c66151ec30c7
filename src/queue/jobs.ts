import { createHash } from 'node:crypto'
import type { JobsOptions } from 'bullmq'
import { z } from 'zod'

/**
 * The job catalogue. Jobs carry ids only: the inbox row in Postgres is the system of record, and
 * a job that Redis loses is queued again by the relay from that row.
 */
/**
 * Applies a group of inbox rows (those committed together, a relay page, woken events): the
 * worker claims the ones still unsettled and applies them in one transaction, each event still
 * all-or-nothing. A retry of the job retries only the rows it left unsettled.
 */
export const ApplyEvent = {
  queue: 'events',
  name: 'apply-events',
  /**
   * Rows per job: one transaction, one advisory lock per object it touches (see sync/objects.ts).
   * Each job costs Postgres a few milliseconds whatever its size (its statements, its commit), so
   * a backlog drains faster in bigger jobs: 500 rows applied 11-20% more events/s than 250 in
   * `npm run bench` (3 of 3 interleaved pairs, less Postgres CPU per event in each), while two
   * jobs at once stay well inside Postgres's default lock table (README, "Scaling out past one machine").
   */
  maxRows: 500,
  schema: z.union([
    z.object({ inboxIds: z.array(z.string().regex(/^\d+$/)).min(1).max(1000) }),
    // Jobs queued by a release before batching, still in Redis during an upgrade.
    z.object({ inboxId: z.string().regex(/^\d+$/) }).transform((d) => ({ inboxIds: [d.inboxId] })),
  ]),
  options: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
    // Postgres keeps the outcome; Redis keeps only enough to show recent jobs on the dashboard.
    removeOnComplete: { count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 10_000 },
  } satisfies JobsOptions,
} as const
export type ApplyEventData = { inboxIds: string[] }

/** An inbox row as the queue knows it: its id and how many times it was queued anew. */
export type EventRef = { id: string; generation: number }

/**
 * The job id of a group of rows, each at its generation (BullMQ refuses integer ids, hence the
 * prefix): adding the same group again while its job exists is a no-op, and any other group, or
 * a row queued anew (a replay, a wake-up), gets a job of its own.
 */
export function eventJobId(refs: readonly EventRef[]): string {
  const [first] = refs
  if (!first) throw new Error('a job of no rows')
  if (refs.length === 1) return `inbox-${first.id}-${first.generation}`
  const digest = createHash('sha1')
  for (const r of refs) digest.update(`${r.id}:${r.generation},`)
  return `inbox-${first.id}-${first.generation}+${refs.length - 1}-${digest.digest('hex').slice(0, 16)}`
}

/**
 * The jobs for some rows: in id order, at most `ApplyEvent.maxRows` a job. `front`: taken ahead of
 * the jobs waiting (BullMQ's lifo).
 */
export function applyEventJobs(refs: readonly EventRef[], opts: { front?: boolean } = {}) {
  const sorted = [...refs].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
  const jobs = []
  for (let i = 0; i < sorted.length; i += ApplyEvent.maxRows) {
    const group = sorted.slice(i, i + ApplyEvent.maxRows)
    jobs.push({
      name: ApplyEvent.name,
      data: { inboxIds: group.map((r) => r.id) } satisfies ApplyEventData,
      opts: { ...ApplyEvent.options, jobId: eventJobId(group), ...(opts.front && { lifo: true }) },
    })
  }
  return jobs
}

/** An invoice run (created by the API or the monthly scheduler); the run row holds its report. */
export const InvoiceRun = {
  queue: 'billing',
  name: 'invoice-run',
  schema: z.object({
    runId: z.uuid().optional(),
    scheduled: z.boolean().optional(),
    /** The API request that asked for it, for the logs. */
    requestId: z.string().optional(),
  }),
  options: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 5000, jitter: 0.5 },
    removeOnComplete: { count: 100 },
    removeOnFail: { age: 7 * 24 * 3600 },
  } satisfies JobsOptions,
} as const
export type InvoiceRunData = z.infer<typeof InvoiceRun.schema>

export const MONTHLY_INVOICE_SCHEDULER = 'monthly-invoice-run'

/** A reconciliation of one source against its BSS API (on demand or on the source's schedule). */
export const ReconcileSource = {
  queue: 'reconcile',
  name: 'reconcile-source',
  schema: z.object({ sourceId: z.uuid(), requestId: z.string().optional() }),
  options: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 30_000, jitter: 0.5 },
    removeOnComplete: { count: 200 },
    removeOnFail: { age: 7 * 24 * 3600 },
  } satisfies JobsOptions,
} as const
export type ReconcileSourceData = z.infer<typeof ReconcileSource.schema>

export const reconcileSchedulerId = (sourceId: string) => `reconcile-${sourceId}`
