import { mkdir, writeFile } from 'node:fs/promises'
import { benchInvoiceRun } from './invoice-run.js'

/**
 * `npm run bench`: every benchmark in one run on this machine, results in bench/results.json.
 * BENCH_SUBSCRIPTIONS (default 100000) scales the invoice run; 1000000 is the goal size.
 */
const subscriptions = Number(process.env.BENCH_SUBSCRIPTIONS ?? 100_000)
const results: Record<string, unknown> = {
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  at: new Date().toISOString(),
}

const invoiceRun = await benchInvoiceRun(subscriptions, Math.max(1, Math.round(subscriptions / 100)))
results.invoice_run = invoiceRun

await mkdir(new URL('.', import.meta.url), { recursive: true })
await writeFile(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
console.table({
  'invoice run': {
    subscriptions: invoiceRun.subscriptions,
    resellers: invoiceRun.resellers,
    lines: invoiceRun.lines,
    seconds: invoiceRun.seconds,
    'subs/s': invoiceRun.subscriptions_per_second,
    'peak RSS MB': invoiceRun.peak_rss_mb,
    'run CPU s': invoiceRun.cpu_seconds,
  },
})
