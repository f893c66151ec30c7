import { pino } from 'pino'
import { createRun, executeRun } from '../src/billing/runs.js'
import { createSql } from '../src/db/client.js'

// Runs one invoice run over every reseller in its own process, so its peak memory is its own.
const [url, period] = process.argv.slice(2) as [string, string]
const sql = createSql(url, { max: 4 })
const runId = await createRun(sql, { period })
const started = performance.now()
const lanes = Number(process.env.BENCH_BILLING_LANES ?? 2)
const report = await executeRun({ sql, log: pino({ level: 'silent' }), lanes }, runId)
const seconds = (performance.now() - started) / 1000
const usage = process.resourceUsage()
await sql.end()
process.stdout.write(
  `${JSON.stringify({ seconds, peak_rss_mb: usage.maxRSS / 1024, cpu_seconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, resellers: report.resellers, lines: report.lines_added, errors: report.errors.length })}\n`,
)
