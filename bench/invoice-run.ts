import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { generateBillingData } from './billing-data.js'
import { dropDatabase, freshDatabase } from './db.js'

export type InvoiceRunResult = {
  subscriptions: number
  resellers: number
  lines: number
  seconds: number
  subscriptions_per_second: number
  peak_rss_mb: number
  /** CPU time of the run's own process: the rest of the wall time is Postgres (or waiting). */
  cpu_seconds: number
  generate_seconds: number
}

/** The invoice run over generated data: a fresh database, data made set-based, the run in a child. */
export async function benchInvoiceRun(subscriptions: number, tenants: number): Promise<InvoiceRunResult> {
  const name = 'tiersync_bench_billing'
  const { url, sql } = await freshDatabase(name)
  const t0 = performance.now()
  await generateBillingData(sql, tenants, subscriptions)
  const generateSeconds = (performance.now() - t0) / 1000
  await sql.end()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./invoice-run-child.ts', import.meta.url)), url, '2026-05'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`invoice run child exited ${code}`)
  const r = JSON.parse(out.trim().split('\n').pop() as string) as {
    seconds: number
    peak_rss_mb: number
    cpu_seconds: number
    resellers: number
    lines: number
  }
  await dropDatabase(name)
  return {
    subscriptions,
    resellers: r.resellers,
    lines: r.lines,
    seconds: round(r.seconds),
    subscriptions_per_second: Math.round(subscriptions / r.seconds),
    peak_rss_mb: round(r.peak_rss_mb),
    cpu_seconds: round(r.cpu_seconds),
    generate_seconds: round(generateSeconds),
  }
}

const round = (n: number) => Math.round(n * 100) / 100
