import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { Sql } from '../db/client.js'
import { secretKey } from '../verify/standard-webhooks.js'
import { generateWebhookSecret, type SecretBox } from './secret-box.js'

/** Formats a source may declare; each names a mapper in src/mappers/. */
export const SourceFormat = z.enum(['canonical'])
export type SourceFormat = z.infer<typeof SourceFormat>

export const Reseller = z.object({
  name: z.string().trim().min(1).max(200),
  number: z.string().trim().min(1).max(100).optional(),
  email: z.email().optional(),
  tier: z.string().trim().min(1).max(50).default('basic'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'ISO 4217 code, e.g. EUR')
    .default('EUR'),
})

export const NewSource = z.object({
  name: z.string().trim().min(1).max(200),
  format: SourceFormat.default('canonical'),
  reseller: Reseller,
  rate_limit_per_minute: z.number().int().min(0).max(1_000_000).nullable().optional(),
})
export type NewSource = z.infer<typeof NewSource>

export type SecretInfo = { id: string; created_at: Date; expires_at: Date | null }

export type Source = {
  id: string
  name: string
  format: SourceFormat
  verification: string
  account_id: string
  enabled: boolean
  rate_limit_per_minute: number | null
  created_at: Date
  updated_at: Date
  secrets: SecretInfo[]
}

export type SourceDeps = { sql: Sql; box: SecretBox; clock: Clock }

/** Creates the tenant reseller account, the source and its first secret in one transaction. */
export async function createSource(
  deps: SourceDeps,
  input: NewSource,
): Promise<{ source: Source; secret: string }> {
  const secret = generateWebhookSecret()
  const id = await deps.sql.begin(async (tx) => {
    const r = input.reseller
    const [account] = await tx<{ id: string }[]>`
      insert into accounts (type, name, number, email, tier, currency)
      values ('tenant_reseller', ${r.name}, ${r.number ?? null}, ${r.email ?? null}, ${r.tier}, ${r.currency})
      returning id`
    if (!account) throw new Error('insert returned no row')
    const [source] = await tx<{ id: string }[]>`
      insert into sources (name, format, account_id, rate_limit_per_minute)
      values (${input.name}, ${input.format}, ${account.id}, ${input.rate_limit_per_minute ?? null})
      returning id`
    if (!source) throw new Error('insert returned no row')
    await tx`insert into source_secrets (source_id, secret_enc) values (${source.id}, ${deps.box.seal(secret)})`
    return source.id
  })
  const source = await getSource(deps.sql, id)
  if (!source) throw new Error('source vanished after insert')
  return { source, secret }
}

export async function listSources(sql: Sql): Promise<Source[]> {
  return selectSources(sql, null)
}

export async function getSource(sql: Sql, id: string): Promise<Source | undefined> {
  const [source] = await selectSources(sql, id)
  return source
}

async function selectSources(sql: Sql, id: string | null): Promise<Source[]> {
  return sql<Source[]>`
    select s.id, s.name, s.format, s.verification, s.account_id, s.enabled, s.rate_limit_per_minute,
           s.created_at, s.updated_at,
           coalesce((select json_agg(json_build_object('id', k.id, 'created_at', k.created_at,
                                                        'expires_at', k.expires_at) order by k.created_at)
                     from source_secrets k where k.source_id = s.id), '[]') as secrets
    from sources s
    where ${id === null ? sql`true` : sql`s.id = ${id}`}
    order by s.created_at, s.id`
}

/**
 * Adds a new secret; every secret active until now keeps verifying for `graceSeconds` more, so
 * the reseller can switch without losing a delivery.
 */
export async function rotateSecret(
  deps: SourceDeps,
  id: string,
  graceSeconds: number,
): Promise<{ source: Source; secret: string } | undefined> {
  const secret = generateWebhookSecret()
  const until = new Date(deps.clock.now().getTime() + graceSeconds * 1000)
  const found = await deps.sql.begin(async (tx) => {
    const [row]: [{ id: string }?] = await tx`select id from sources where id = ${id} for update`
    if (!row) return false
    await tx`
      update source_secrets set expires_at = ${until}
      where source_id = ${id} and (expires_at is null or expires_at > ${until})`
    await tx`insert into source_secrets (source_id, secret_enc) values (${id}, ${deps.box.seal(secret)})`
    return true
  })
  if (!found) return undefined
  const source = await getSource(deps.sql, id)
  return source && { source, secret }
}

export async function setEnabled(sql: Sql, id: string, enabled: boolean): Promise<Source | undefined> {
  const [row]: [{ id: string }?] = await sql`
    update sources set enabled = ${enabled}, updated_at = now() where id = ${id} returning id`
  return row && getSource(sql, id)
}

export type IngestSource = {
  id: string
  format: SourceFormat
  account_id: string
  rate_limit_per_minute: number | null
  /** HMAC keys of the secrets still active at `now`. */
  keys: Buffer[]
}

/** What ingest needs to verify a request; undefined for an unknown or disabled source. */
export async function loadIngestSource(deps: SourceDeps, id: string): Promise<IngestSource | undefined> {
  const rows = await deps.sql<
    {
      id: string
      format: SourceFormat
      account_id: string
      rate_limit_per_minute: number | null
      secret_enc: Buffer | null
      expires_at: Date | null
    }[]
  >`
    select s.id, s.format, s.account_id, s.rate_limit_per_minute, k.secret_enc, k.expires_at
    from sources s left join source_secrets k on k.source_id = s.id
    where s.id = ${id} and s.enabled`
  const first = rows[0]
  if (!first) return undefined
  const now = deps.clock.now().getTime()
  const keys = rows
    .filter((r) => r.secret_enc && (r.expires_at === null || r.expires_at.getTime() > now))
    .map((r) => secretKey(deps.box.open(r.secret_enc as Buffer)))
  return {
    id: first.id,
    format: first.format,
    account_id: first.account_id,
    rate_limit_per_minute: first.rate_limit_per_minute,
    keys,
  }
}
