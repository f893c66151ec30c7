import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import { ApplyEvent, applyEventJob } from './jobs.js'

export type Queues = {
  events: Queue
  /** The fail-fast producer connection the queues share. */
  connection: Redis
  prefix: string
  /** Queues one job per inbox id; resolves once Redis has them all (ids already queued are no-ops). */
  enqueueEvents(inboxIds: readonly string[]): Promise<void>
  close(): Promise<void>
}

export function createQueues(connection: Redis, prefix: string, log: Logger): Queues {
  const events = new Queue(ApplyEvent.queue, { connection, prefix, skipWaitingForReady: true })
  events.on('error', (err) => log.warn({ err: err.message }, 'events queue error'))
  return {
    events,
    connection,
    prefix,
    async enqueueEvents(inboxIds) {
      if (inboxIds.length === 0) return
      await events.addBulk(inboxIds.map(applyEventJob))
    },
    async close() {
      await events.close()
    },
  }
}
