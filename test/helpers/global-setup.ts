import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { createSql } from '../../src/db/client.js'
import { migrate } from '../../src/db/migrate.js'
import { ADMIN_URL, dbUrl, templateDb } from './env.js'

/**
 * Migrates a template database once per run; every test file clones it (fast, isolated). Each
 * run has its own id (start time + random), so two runs on one machine never drop each other's
 * databases; leftovers of runs older than a few hours are cleaned up.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const run = `${Math.floor(Date.now() / 1000).toString(36)}${randomBytes(3).toString('hex')}`
  process.env.TIERSYNC_TEST_RUN = run
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await dropDatabases(admin, (name) => isStale(name))
  await admin`create database ${admin(templateDb())}`
  const sql = createSql(dbUrl(templateDb()), { max: 1 })
  await migrate(sql)
  await sql.end()
  await admin.end()
  return async () => {
    const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    await dropDatabases(a, (name) => name.includes(`_${run}`))
    await a.end()
  }
}

const STALE_SECONDS = 6 * 3600

/** Test databases are `tiersync_t_<run>_<rand>` / `tiersync_tpl_<run>`, `<run>` starting with base-36 seconds. */
function isStale(name: string): boolean {
  const run = /^tiersync_(?:t|tpl)_([0-9a-z]+)/.exec(name)?.[1]
  if (!run) return name === 'tiersync_test_template' // the layout before run ids
  const started = Number.parseInt(run.slice(0, -6), 36)
  return !Number.isFinite(started) || Date.now() / 1000 - started > STALE_SECONDS
}

async function dropDatabases(admin: postgres.Sql, which: (name: string) => boolean): Promise<void> {
  const dbs = await admin<{ datname: string }[]>`
    select datname from pg_database where datname like 'tiersync\\_t%'`
  for (const { datname } of dbs.filter((d) => which(d.datname)))
    await admin`drop database if exists ${admin(datname)} with (force)`
}
