import type { JobsOptions } from 'bullmq'
import { z } from 'zod'

/**
 * The job catalogue. Jobs carry ids only: the inbox row in Postgres is the system of record, and
 * a job that Redis loses is queued again by the relay from that row.
 */
export const ApplyEvent = {
  queue: 'events',
  name: 'apply-event',
  schema: z.object({ inboxId: z.string().regex(/^\d+$/) }),
  options: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
    // Postgres keeps the outcome; Redis keeps only enough to show recent jobs on the dashboard.
    removeOnComplete: { count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 10_000 },
  } satisfies JobsOptions,
} as const
export type ApplyEventData = z.infer<typeof ApplyEvent.schema>

/**
 * One job id per inbox row and generation (BullMQ refuses integer ids, hence the prefix): adding
 * the same row twice while its job exists is a no-op.
 */
export function eventJobId(ref: EventRef): string {
  return `inbox-${ref.id}-${ref.generation}`
}

/** An inbox row as the queue knows it: its id and how many times it was queued anew. */
export type EventRef = { id: string; generation: number }

export function applyEventJob(ref: EventRef) {
  return {
    name: ApplyEvent.name,
    data: { inboxId: ref.id } satisfies ApplyEventData,
    opts: { ...ApplyEvent.options, jobId: eventJobId(ref) },
  }
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
