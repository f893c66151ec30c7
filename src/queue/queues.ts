import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { withTimeout } from '../async.js'
import type { Logger } from '../log.js'
import { ApplyEvent, applyEventJob, type EventRef } from './jobs.js'

export type Queues = {
  events: Queue
  /** The fail-fast producer connection the queues share. */
  connection: Redis
  prefix: string
  /** Queues one job per inbox row; resolves once Redis has them all (jobs already there are no-ops). */
  enqueueEvents(refs: readonly EventRef[]): Promise<void>
  close(): Promise<void>
}

export function createQueues(connection: Redis, prefix: string, log: Logger): Queues {
  // Not skipWaitingForReady: BullMQ's first INFO would fail on a not-yet-connected fail-fast
  // connection and leave the queue broken for good. Adds made before the first connection wait
  // for it (bounded below); afterwards the connection fails fast.
  const events = new Queue(ApplyEvent.queue, { connection, prefix })
  events.on('error', (err) => log.warn({ err: err.message }, 'events queue error'))
  return {
    events,
    connection,
    prefix,
    async enqueueEvents(refs) {
      if (refs.length === 0) return
      await withTimeout(events.addBulk(refs.map(applyEventJob)), 5000, 'redis addBulk')
    },
    async close() {
      await events.close()
    },
  }
}
