import postgres from 'postgres'
import { createSql } from '../../src/db/client.js'
import { migrate } from '../../src/db/migrate.js'
import { ADMIN_URL, dbUrl, TEMPLATE_DB } from './env.js'

/** Migrates a template database once per run; every test file clones it (fast, isolated). */
export default async function setup(): Promise<() => Promise<void>> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await dropTestDatabases(admin)
  await admin`create database ${admin(TEMPLATE_DB)}`
  const sql = createSql(dbUrl(TEMPLATE_DB), { max: 1 })
  await migrate(sql)
  await sql.end()
  await admin.end()
  return async () => {
    const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    await dropTestDatabases(a)
    await a.end()
  }
}

async function dropTestDatabases(admin: postgres.Sql): Promise<void> {
  const dbs = await admin<{ datname: string }[]>`
    select datname from pg_database where datname = ${TEMPLATE_DB} or datname like 'tiersync_t_%'`
  for (const { datname } of dbs) await admin`drop database if exists ${admin(datname)} with (force)`
}
