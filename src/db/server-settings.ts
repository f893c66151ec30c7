import type { Logger } from '../log.js'
import type { Sql } from './client.js'

/**
 * Warns at start when Postgres runs without autovacuum, and says so (true). The driver prepares
 * every statement, and Postgres keeps a prepared statement's generic plan, like the plans of the
 * foreign-key checks it runs itself, until the table is next analyzed. Without autovacuum nothing
 * analyzes a growing table, so a plan chosen while it was small, a scan of the whole table, stays:
 * on this project's bench machine (autovacuum off) the history's former foreign-key check on
 * `subscriptions` took 68-142 µs per row instead of 3-4.
 */
export async function warnAboutServerSettings(sql: Sql, log: Logger): Promise<boolean> {
  const [row] = await sql<{ autovacuum: string }[]>`select current_setting('autovacuum') as autovacuum`
  if (row?.autovacuum === 'on') return false
  log.warn(
    { setting: 'autovacuum', value: row?.autovacuum },
    'Postgres runs with autovacuum off: statement plans chosen while tables were small are kept as they grow; turn it on (see README, Postgres)',
  )
  return true
}
