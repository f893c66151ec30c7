import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { afterAll } from 'vitest'
import { createSql, type Sql } from '../../src/db/client.js'
import { ADMIN_URL, dbUrl, templateDb, testRun } from './env.js'

export type TestDb = { name: string; url: string; sql: Sql }

/** A fresh database cloned from the migrated template, dropped after the file's tests. */
export async function createTestDb(): Promise<TestDb> {
  const name = `tiersync_t_${testRun()}_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  for (let attempt = 0; ; attempt++) {
    try {
      await admin`create database ${admin(name)} template ${admin(templateDb())}`
      break
    } catch (err) {
      // Two files cloning the template at the same instant: try again shortly.
      if (attempt > 20 || (err as { code?: string }).code !== '55006') throw err
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200))
    }
  }
  await admin.end()
  const url = dbUrl(name)
  const sql = createSql(url, { max: 10 })
  afterAll(async () => {
    await sql.end({ timeout: 1 })
    const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    await a`drop database if exists ${a(name)} with (force)`
    await a.end()
  })
  return { name, url, sql }
}
