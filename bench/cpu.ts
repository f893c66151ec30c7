import { readFileSync } from 'node:fs'
import type { Sql } from '../src/db/client.js'

/** CPU seconds (user + system) of a process, from /proc; 0 once it has exited. */
export function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** CPU seconds spread over `n` requests or events, in whole microseconds each (0 for none). */
export const microsEach = (seconds: number, n: number) => (n > 0 ? Math.round((seconds / n) * 1e6) : 0)

/**
 * The CPU that Postgres spends for one database: a sampler over its backends (the server runs
 * on this machine). `sample()` before and after a phase; `since(before)` sums what every backend
 * used in between, counting a backend that started meanwhile from zero.
 */
export function postgresCpu(sql: Sql, database: string) {
  async function sample(): Promise<Map<number, number>> {
    const rows = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`
    return new Map(rows.map((r) => [r.pid, processCpuSeconds(r.pid)]))
  }
  return {
    sample,
    async since(before: Map<number, number>): Promise<number> {
      const after = await sample()
      let total = 0
      for (const [pid, s] of after) total += s - (before.get(pid) ?? 0)
      return total
    },
  }
}
