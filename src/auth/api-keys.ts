import { createHash, randomBytes } from 'node:crypto'
import { z } from 'zod'
import type { Sql } from '../db/client.js'

export const Role = z.enum(['admin', 'billing', 'viewer'])
export type Role = z.infer<typeof Role>

const RANK: Record<Role, number> = { viewer: 0, billing: 1, admin: 2 }

/** admin may do everything, billing manages billing and reads, viewer only reads. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need]
}

export type ApiKey = {
  id: string
  name: string
  role: Role
  key_prefix: string
  created_at: Date
  last_used_at: Date | null
  revoked_at: Date | null
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

export function generateKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`
}

export async function createApiKey(
  sql: Sql,
  input: { name: string; role: Role; key?: string },
): Promise<{ apiKey: ApiKey; key: string }> {
  const key = input.key ?? generateKey()
  const [apiKey] = await sql<ApiKey[]>`
    insert into api_keys (name, role, key_hash, key_prefix)
    values (${input.name}, ${input.role}, ${hashKey(key)}, ${key.slice(0, 8)})
    returning id, name, role, key_prefix, created_at, last_used_at, revoked_at`
  if (!apiKey) throw new Error('insert returned no row')
  return { apiKey, key }
}

export async function listApiKeys(sql: Sql): Promise<ApiKey[]> {
  return sql<ApiKey[]>`
    select id, name, role, key_prefix, created_at, last_used_at, revoked_at
    from api_keys order by created_at, id`
}

export async function revokeApiKey(sql: Sql, id: string): Promise<ApiKey | undefined> {
  const [row]: [ApiKey?] = await sql`
    update api_keys set revoked_at = coalesce(revoked_at, now()) where id = ${id}
    returning id, name, role, key_prefix, created_at, last_used_at, revoked_at`
  return row
}

export async function authenticate(sql: Sql, key: string): Promise<{ id: string; role: Role } | undefined> {
  const [row]: [{ id: string; role: Role; stale: boolean }?] = await sql`
    select id, role, (last_used_at is null or last_used_at < now() - interval '1 minute') as stale
    from api_keys where key_hash = ${hashKey(key)} and revoked_at is null`
  if (!row) return undefined
  // Refreshed at most once a minute and off the request path: usage tracking must not cost a write per call.
  if (row.stale) sql`update api_keys set last_used_at = now() where id = ${row.id}`.catch(() => {})
  return { id: row.id, role: row.role }
}

/**
 * At boot: ADMIN_API_KEY is upserted as the bootstrap admin key. Without it, and with no key at
 * all yet, one is generated and returned so the entry point can print it once.
 */
export async function bootstrapAdminKey(
  sql: Sql,
  configured: string | undefined,
): Promise<string | undefined> {
  if (configured) {
    await sql`
      insert into api_keys (name, role, key_hash, key_prefix)
      values ('bootstrap', 'admin', ${hashKey(configured)}, ${configured.slice(0, 8)})
      on conflict (key_hash) do nothing`
    return undefined
  }
  return sql.begin(async (tx) => {
    await tx`lock table api_keys in share row exclusive mode`
    const [any]: [{ id: string }?] = await tx`select id from api_keys limit 1`
    if (any) return undefined
    const key = generateKey()
    await tx`
      insert into api_keys (name, role, key_hash, key_prefix)
      values ('bootstrap', 'admin', ${hashKey(key)}, ${key.slice(0, 8)})`
    return key
  })
}
