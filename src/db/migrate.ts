import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Sql } from './client.js'

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url))

/** Arbitrary but fixed: every tiersync migrator takes this advisory lock. */
const MIGRATION_LOCK = 7_355_608_001

type Migration = { id: number; name: string; file: string }

export async function listMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const migrations = files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file)
    if (!m?.[1] || !m[2]) throw new Error(`migration file name must be NNNN_name.sql: ${file}`)
    return { id: Number(m[1]), name: m[2], file }
  })
  migrations.forEach((m, i) => {
    if (m.id !== i + 1)
      throw new Error(`migration numbering gap or duplicate at ${m.file} (expected ${i + 1})`)
  })
  return migrations
}

/**
 * Applies every migration not yet in the ledger while holding an advisory lock, so concurrent
 * starters (several replicas) apply each migration exactly once. All pending migrations run in one
 * transaction, each under a savepoint: a failing one leaves the schema exactly as it was.
 * Returns the ids applied by this call.
 */
export async function migrate(sql: Sql, dir = SQL_DIR): Promise<number[]> {
  const migrations = await listMigrations(dir)
  return sql.begin(async (tx) => {
    // Transaction-scoped lock: released on commit or rollback, never leaked by a crash.
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`
      create table if not exists schema_migrations (
        id integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`
    const done = new Set((await tx<{ id: number }[]>`select id from schema_migrations`).map((r) => r.id))
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.id)) continue
      const text = await readFile(join(dir, m.file), 'utf8')
      await tx.savepoint(async (sp) => {
        await sp.unsafe(text)
        await sp`insert into schema_migrations (id, name) values (${m.id}, ${m.name})`
      })
      applied.push(m.id)
    }
    return applied
  })
}
