import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { createSql, ensureDatabase } from '../src/db/client.js'
import { listMigrations, migrate } from '../src/db/migrate.js'
import { ADMIN_URL, dbUrl } from './helpers/env.js'

const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
const created: string[] = []
afterAll(async () => {
  for (const name of created) await admin`drop database if exists ${admin(name)} with (force)`
  await admin.end()
})

async function emptyDb(): Promise<string> {
  const name = `tiersync_t_mig_${Math.random().toString(36).slice(2, 10)}`
  created.push(name)
  await ensureDatabase(dbUrl(name))
  return dbUrl(name)
}

describe('migrations', () => {
  it('creates the database when missing, then applies every migration on it', async () => {
    const url = await emptyDb()
    const sql = createSql(url, { max: 2 })
    const all = (await listMigrations()).map((m) => m.id)
    expect(await migrate(sql)).toEqual(all)
    const ledger = await sql<{ id: number }[]>`select id from schema_migrations order by id`
    expect(ledger.map((r) => r.id)).toEqual(all)
    await sql.end()
  })

  it('applies nothing the second time', async () => {
    const url = await emptyDb()
    const sql = createSql(url, { max: 2 })
    await migrate(sql)
    expect(await migrate(sql)).toEqual([])
    await sql.end()
  })

  it('applies each migration exactly once with two migrators at once', async () => {
    const url = await emptyDb()
    const a = createSql(url, { max: 1 })
    const b = createSql(url, { max: 1 })
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)])
    const all = (await listMigrations()).map((m) => m.id)
    expect([...ra, ...rb].sort((x, y) => x - y)).toEqual(all)
    const [{ count } = { count: -1 }] = await a<
      { count: number }[]
    >`select count(*)::int as count from schema_migrations`
    expect(count).toBe(all.length)
    await Promise.all([a.end(), b.end()])
  })

  it('refuses a numbering gap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-'))
    await writeFile(join(dir, '0001_a.sql'), 'select 1;')
    await writeFile(join(dir, '0003_c.sql'), 'select 1;')
    await expect(listMigrations(dir)).rejects.toThrow(/gap/)
  })

  it('leaves the schema untouched when a migration fails', async () => {
    const url = await emptyDb()
    const dir = await mkdtemp(join(tmpdir(), 'mig-'))
    await writeFile(join(dir, '0001_ok.sql'), 'create table t_ok (id int);')
    await writeFile(join(dir, '0002_bad.sql'), 'create table t_bad (id int); select nonsense from nowhere;')
    const sql = createSql(url, { max: 1 })
    await expect(migrate(sql, dir)).rejects.toThrow()
    const [{ n } = { n: -1 }] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_tables where tablename in ('t_ok', 't_bad', 'schema_migrations')`
    expect(n).toBe(0)
    await sql.end()
  })
})
