import postgres from 'postgres'
import { createSql, type Sql } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'

export const BENCH_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://127.0.0.1:5432/postgres'

export function benchDbUrl(name: string): string {
  const u = new URL(BENCH_ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}

/** A fresh, migrated database for one benchmark (dropped first if a previous run left it). */
export async function freshDatabase(name: string): Promise<{ url: string; sql: Sql }> {
  const admin = postgres(BENCH_ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin`drop database if exists ${admin(name)} with (force)`
  await admin`create database ${admin(name)}`
  await admin.end()
  const url = benchDbUrl(name)
  const sql = createSql(url, { max: 4 })
  await migrate(sql)
  return { url, sql }
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(BENCH_ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin`drop database if exists ${admin(name)} with (force)`
  await admin.end()
}
