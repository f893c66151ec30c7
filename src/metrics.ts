import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Sql } from './db/client.js'
import type { Queues } from './queue/queues.js'

/**
 * Prometheus metrics (prom-client), one registry per process. Counters count what this process
 * did (requests, deliveries, events it applied); gauges read the shared truth at scrape time
 * (queue counts from Redis, unsettled events and invoice runs from Postgres), so every replica
 * reports the same backlog whichever one is scraped.
 */
export type Metrics = ReturnType<typeof createMetrics>

export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'tiersync_' })
  return {
    registry,
    http: new Histogram({
      name: 'tiersync_http_request_duration_seconds',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'tiersync_webhooks_total',
      help: 'Webhook deliveries by source and outcome (accepted, duplicate, or the rejection code)',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'tiersync_events_processed_total',
      help: 'Events this process settled, by outcome (applied, stale, waiting, ignored_unpaid, failed, retry)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    invoiceRuns: new Histogram({
      name: 'tiersync_invoice_run_duration_seconds',
      help: 'Invoice runs this process executed, by status',
      labelNames: ['status'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
  }
}

/** The gauges read at scrape time; registered once the process has its clients. */
export function registerStateGauges(metrics: Metrics, deps: { sql: Sql; queues: Queues }): void {
  const { registry } = metrics
  new Gauge({
    name: 'tiersync_queue_jobs',
    help: 'BullMQ jobs by queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      for (const queue of [deps.queues.events, deps.queues.billing, deps.queues.reconcile]) {
        const counts = await queue
          .getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized')
          .catch(() => undefined)
        for (const [state, n] of Object.entries(counts ?? {})) this.set({ queue: queue.name, state }, n)
      }
    },
  })
  // Both read through partial or small indexes: the unsettled rows, the waiting and failed ones.
  new Gauge({
    name: 'tiersync_events',
    help: 'Inbox events not applied yet, by status (received, processing, waiting, failed)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await deps.sql<{ status: string; n: number }[]>`
        select s.status, (select count(*)::int from inbox i where i.status = s.status) as n
        from unnest(array['received', 'processing', 'waiting', 'failed']) as s(status)`.catch(() => [])
      for (const r of rows) this.set({ status: r.status }, r.n)
    },
  })
  new Gauge({
    name: 'tiersync_oldest_unapplied_event_age_seconds',
    help: 'Age of the oldest event received but not settled yet (0 when there is none)',
    registers: [registry],
    async collect() {
      const [row] = await deps.sql<{ age: number | null }[]>`
        select extract(epoch from now() - min(received_at))::float8 as age
        from inbox where status in ('received', 'processing')`.catch(() => [])
      this.set(row?.age ?? 0)
    },
  })
  new Gauge({
    name: 'tiersync_invoice_runs',
    help: 'Invoice runs by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await deps.sql<{ status: string; n: number }[]>`
        select status, count(*)::int as n from invoice_runs group by status`.catch(() => [])
      for (const r of rows) this.set({ status: r.status }, r.n)
    },
  })
}
