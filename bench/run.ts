import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { benchApply } from './apply.js'
import { benchIngest } from './ingest.js'
import { benchInvoiceRun } from './invoice-run.js'

/**
 * `npm run bench`: every benchmark in one run on this machine, each against its baseline or goal,
 * results in bench/results.json. Sizes: BENCH_INGEST_SECONDS (10 per side) in BENCH_INGEST_ROUNDS
 * (5), BENCH_APPLY_EVENTS (50000), BENCH_SUBSCRIPTIONS (100000; 1000000 is the invoice run's goal
 * size). BENCH_ONLY=ingest,apply,invoice runs a subset.
 */
const only = new Set((process.env.BENCH_ONLY ?? 'ingest,apply,invoice').split(','))
const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, node: process.version },
  at: new Date().toISOString(),
}
const table: Record<string, Record<string, string | number>> = {}

if (only.has('ingest')) {
  const r = await benchIngest(
    50,
    Number(process.env.BENCH_INGEST_SECONDS ?? 10),
    Number(process.env.BENCH_INGEST_ROUNDS ?? 5),
  )
  results.ingest = r
  table['ingest: bare Hono'] = {
    'req/s': r.bare.req_per_s,
    'p50 ms': r.bare.p50_ms,
    'p99 ms': r.bare.p99_ms,
    'server CPU µs/req': r.bare.cpu_us_per_req,
  }
  table['ingest: tiersync'] = {
    'req/s': r.tiersync.req_per_s,
    'p50 ms': r.tiersync.p50_ms,
    'p99 ms': r.tiersync.p99_ms,
    'ratio (goal >= 0.40)': r.ratio,
    'ratio range': r.ratio_range.join('-'),
    'peak RSS MB (goal <= 200)': r.tiersync.peak_rss_mb,
    'server CPU µs/req': r.tiersync.api_cpu_us_per_req,
    'Postgres CPU µs/req': r.tiersync.postgres_cpu_us_per_req,
  }
}
if (only.has('apply')) {
  const events = Number(process.env.BENCH_APPLY_EVENTS ?? 50_000)
  const r = await benchApply(events, Math.max(1, Math.round(events / 10)))
  results.apply = r
  table.apply = {
    events: r.events,
    seconds: r.seconds,
    'events/s (goal >= 10000)': r.events_per_second,
    'peak RSS MB': r.worker_peak_rss_mb,
    'worker CPU µs/event': r.worker_cpu_us_per_event,
    'Postgres CPU µs/event': r.postgres_cpu_us_per_event,
  }
}
if (only.has('invoice')) {
  const subscriptions = Number(process.env.BENCH_SUBSCRIPTIONS ?? 100_000)
  const r = await benchInvoiceRun(subscriptions, Math.max(1, Math.round(subscriptions / 100)))
  results.invoice_run = r
  table['invoice run'] = {
    subscriptions: r.subscriptions,
    lines: r.lines,
    seconds: r.seconds,
    'subs/s': r.subscriptions_per_second,
    'peak RSS MB': r.peak_rss_mb,
    'run CPU s': r.cpu_seconds,
  }
}

await mkdir(new URL('.', import.meta.url), { recursive: true })
await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
console.table(table)
