import { z } from 'zod'
import { BssCredentials } from '../callback/client.js'
import type { Clock } from '../clock.js'
import { jsonParam, type Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import { MappingConfig } from '../mappers/mapping.js'
import { DEFAULT_VERIFICATION, generateSecret, secretProblem, VerificationConfig } from '../verify/schemes.js'
import type { SecretBox } from './secret-box.js'

/** Formats a source may declare; each names a mapper in src/mappers/. */
export const SourceFormat = z
  .enum(['canonical', 'interworks', 'cloudblue-connect', 'partner-center', 'mapping'])
  .describe("Which mapper reads this source's payloads")
export type SourceFormat = z.infer<typeof SourceFormat>

/** Formats whose webhooks are thin notifications: mapping them needs the BSS API. */
export const THIN_FORMATS: readonly SourceFormat[] = ['partner-center']

export const BssApiSettings = z
  .object({
    base_url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .refine((u) => {
        const url = new URL(u)
        return !url.username && !url.password && !url.search && !url.hash
      }, 'no credentials, query or fragment in the base URL (credentials go in `credentials`)')
      .describe('Base URL of the reseller BSS API; every call is this plus a path tiersync builds'),
    credentials: BssCredentials.describe('How tiersync authenticates to the BSS (stored encrypted)'),
  })
  .describe('The reseller BSS API tiersync calls back (thin notifications, reconciliation)')
export type BssApiSettings = z.infer<typeof BssApiSettings>

/** A secret a BSS generates itself (JWT secret, API key): at least 16 characters. */
const GivenSecret = z.string().min(16).max(512).describe('Use this secret instead of a generated one')

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

const ReconcileEvery = z
  .number()
  .int()
  .min(5)
  .max(10_080)
  .nullable()
  .describe('Minutes between scheduled reconciliations (null: never); needs `api`')

/** Settings a source can change after creation (PATCH). */
export const SourceSettings = z.object({
  name: z.string().trim().min(1).max(200),
  verification: VerificationConfig,
  api: BssApiSettings.nullable(),
  mapping: MappingConfig.nullable(),
  reconcile_every_minutes: ReconcileEvery,
  rate_limit_per_minute: z.number().int().min(0).max(1_000_000).nullable(),
})

export const NewSource = z
  .object({
    name: SourceSettings.shape.name,
    format: SourceFormat.default('canonical'),
    reseller: Reseller,
    verification: VerificationConfig.default(DEFAULT_VERIFICATION),
    secret: GivenSecret.optional(),
    api: BssApiSettings.optional(),
    mapping: MappingConfig.optional(),
    reconcile_every_minutes: ReconcileEvery.optional(),
    rate_limit_per_minute: SourceSettings.shape.rate_limit_per_minute.optional(),
  })
  .superRefine((s, ctx) => {
    for (const i of incoherence({ ...s, api: s.api ?? null, mapping: s.mapping ?? null }))
      ctx.addIssue({ code: 'custom', path: [i.path], message: i.message })
    const problem = s.secret === undefined ? undefined : secretProblem(s.verification, s.secret)
    if (problem) ctx.addIssue({ code: 'custom', path: ['secret'], message: problem })
  })
export type NewSource = z.infer<typeof NewSource>

export const SourcePatch = SourceSettings.partial()
export type SourcePatch = z.infer<typeof SourcePatch>

type Coherence = {
  format: SourceFormat
  /** Whether the source has a BSS API (only its presence matters here). */
  api: unknown
  mapping: unknown
  reconcile_every_minutes?: number | null | undefined
}

/**
 * Settings that only make sense together: a thin format needs an API, `mapping` an expression,
 * a reconciliation schedule an API. Checked on create (as zod issues) and on PATCH (as a 422).
 */
export function incoherence(s: Coherence): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = []
  if (THIN_FORMATS.includes(s.format) && !s.api)
    issues.push({ path: 'api', message: `format ${s.format} fetches state: api is required` })
  if (s.format === 'mapping' && !s.mapping)
    issues.push({ path: 'mapping', message: 'format mapping needs a mapping expression' })
  if (s.reconcile_every_minutes && !s.api)
    issues.push({ path: 'reconcile_every_minutes', message: 'reconciliation needs api' })
  return issues
}

export type SecretInfo = { id: string; created_at: Date; expires_at: Date | null }

export type Source = {
  id: string
  name: string
  format: SourceFormat
  verification: VerificationConfig
  account_id: string
  enabled: boolean
  rate_limit_per_minute: number | null
  /** The API's base URL and credential type; the credentials themselves never leave the database. */
  api: { base_url: string; credentials_type: BssCredentials['type'] } | null
  mapping: MappingConfig | null
  reconcile_every_minutes: number | null
  reconciled_at: Date | null
  reconcile_report: unknown
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
  const secret = input.secret ?? generateSecret(input.verification)
  const id = await deps.sql.begin(async (tx) => {
    const r = input.reseller
    const [account] = await tx<{ id: string }[]>`
      insert into accounts (type, name, number, email, tier, currency)
      values ('tenant_reseller', ${r.name}, ${r.number ?? null}, ${r.email ?? null}, ${r.tier}, ${r.currency})
      returning id`
    if (!account) throw new Error('insert returned no row')
    const [source] = await tx<{ id: string }[]>`
      insert into sources (name, format, account_id, rate_limit_per_minute, verification, api_base_url,
        api_credentials_enc, api_credentials_type, mapping, reconcile_every_minutes)
      values (${input.name}, ${input.format}, ${account.id}, ${input.rate_limit_per_minute ?? null},
        ${jsonParam(tx, input.verification)}, ${input.api?.base_url ?? null},
        ${input.api ? deps.box.seal(JSON.stringify(input.api.credentials)) : null}, ${input.api?.credentials.type ?? null},
        ${input.mapping ? jsonParam(tx, input.mapping) : null}, ${input.reconcile_every_minutes ?? null})
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
           case when s.api_base_url is null then null
                else json_build_object('base_url', s.api_base_url, 'credentials_type', s.api_credentials_type) end as api,
           s.mapping, s.reconcile_every_minutes, s.reconciled_at, s.reconcile_report, s.created_at, s.updated_at,
           coalesce((select json_agg(json_build_object('id', k.id, 'created_at', k.created_at,
                                                        'expires_at', k.expires_at) order by k.created_at)
                     from source_secrets k where k.source_id = s.id), '[]') as secrets
    from sources s
    where ${id === null ? sql`true` : sql`s.id = ${id}`}
    order by s.created_at, s.id`
}

/**
 * Adds a new secret (generated for the source's scheme, or the one given when the BSS generates
 * its own); every secret active until now keeps verifying for `graceSeconds` more, so the reseller
 * can switch without losing a delivery.
 */
export async function rotateSecret(
  deps: SourceDeps,
  id: string,
  graceSeconds: number,
  given?: string,
): Promise<{ source: Source; secret: string } | undefined> {
  const until = new Date(deps.clock.now().getTime() + graceSeconds * 1000)
  const secret = await deps.sql.begin(async (tx) => {
    const [row]: [{ verification: VerificationConfig }?] = await tx`
      select verification from sources where id = ${id} for update`
    if (!row) return undefined
    const problem = given === undefined ? undefined : secretProblem(row.verification, given)
    if (problem) throw incoherent([{ path: 'secret', message: problem }])
    const secret = given ?? generateSecret(row.verification)
    await tx`
      update source_secrets set expires_at = ${until}
      where source_id = ${id} and (expires_at is null or expires_at > ${until})`
    await tx`insert into source_secrets (source_id, secret_enc) values (${id}, ${deps.box.seal(secret)})`
    return secret
  })
  if (secret === undefined) return undefined
  const source = await getSource(deps.sql, id)
  return source && { source, secret }
}

export async function setEnabled(sql: Sql, id: string, enabled: boolean): Promise<Source | undefined> {
  const [row]: [{ id: string }?] = await sql`
    update sources set enabled = ${enabled}, updated_at = now() where id = ${id} returning id`
  return row && getSource(sql, id)
}

/** Settings refused as a whole (422 `invalid_settings`), with what is wrong where. */
function incoherent(details: { path: string; message: string }[]): AppError {
  return new AppError('invalid_settings', { message: 'these settings do not fit together', details })
}

/**
 * Applies a PATCH; the source after it must still be coherent (else nothing changes). A new
 * verification scheme is a cut-over: the old secrets (made for the old scheme) stop at once and a
 * new one is generated for the new scheme and returned.
 */
export async function updateSource(
  deps: SourceDeps,
  id: string,
  patch: SourcePatch,
): Promise<{ source: Source; secret?: string } | undefined> {
  const found = await deps.sql.begin(async (tx) => {
    const [row]: [
      {
        format: SourceFormat
        has_api: boolean
        mapping: unknown
        reconcile_every_minutes: number | null
        verification: VerificationConfig
      }?,
    ] = await tx`
        select format, api_base_url is not null as has_api, mapping, reconcile_every_minutes, verification
        from sources where id = ${id} for update`
    if (!row) return false
    const after = {
      format: row.format,
      api: patch.api === undefined ? row.has_api : patch.api,
      mapping: patch.mapping === undefined ? row.mapping : patch.mapping,
      reconcile_every_minutes:
        patch.reconcile_every_minutes === undefined
          ? row.reconcile_every_minutes
          : patch.reconcile_every_minutes,
    }
    const issues = incoherence(after)
    if (issues.length > 0) throw incoherent(issues)
    const set: Record<string, unknown> = {}
    if (patch.name !== undefined) set.name = patch.name
    if (patch.verification !== undefined) set.verification = jsonParam(tx, patch.verification)
    if (patch.mapping !== undefined) set.mapping = patch.mapping && jsonParam(tx, patch.mapping)
    if (patch.reconcile_every_minutes !== undefined)
      set.reconcile_every_minutes = patch.reconcile_every_minutes
    if (patch.rate_limit_per_minute !== undefined) set.rate_limit_per_minute = patch.rate_limit_per_minute
    if (patch.api !== undefined) {
      set.api_base_url = patch.api?.base_url ?? null
      set.api_credentials_enc = patch.api ? deps.box.seal(JSON.stringify(patch.api.credentials)) : null
      set.api_credentials_type = patch.api?.credentials.type ?? null
    }
    const columns = Object.keys(set)
    if (columns.length > 0)
      await tx`update sources set ${tx(set as Record<string, never>, columns)}, updated_at = now() where id = ${id}`
    if (!patch.verification || patch.verification.scheme === row.verification.scheme)
      return { secret: undefined }
    const secret = generateSecret(patch.verification)
    await tx`update source_secrets set expires_at = now() where source_id = ${id} and (expires_at is null or expires_at > now())`
    await tx`insert into source_secrets (source_id, secret_enc) values (${id}, ${deps.box.seal(secret)})`
    return { secret }
  })
  if (!found) return undefined
  const source = await getSource(deps.sql, id)
  return source && { source, ...(found.secret && { secret: found.secret }) }
}

export type IngestSource = {
  id: string
  format: SourceFormat
  account_id: string
  rate_limit_per_minute: number | null
  verification: VerificationConfig
  mapping: MappingConfig | null
  /** Whether tiersync can call the BSS back (a thin notification needs it). */
  has_api: boolean
  /** The source's secrets in clear (held only in memory), with when each stops verifying. */
  secrets: { value: string; expiresAt: number | null }[]
}

/** The secrets that verify at `nowMs`. */
export function activeSecrets(source: IngestSource, nowMs: number): string[] {
  return source.secrets.filter((s) => s.expiresAt === null || s.expiresAt > nowMs).map((s) => s.value)
}

/** What ingest needs to verify a request; undefined for an unknown or disabled source. */
export async function loadIngestSource(deps: SourceDeps, id: string): Promise<IngestSource | undefined> {
  const rows = await deps.sql<
    {
      id: string
      format: SourceFormat
      account_id: string
      rate_limit_per_minute: number | null
      verification: VerificationConfig
      mapping: MappingConfig | null
      has_api: boolean
      secret_enc: Buffer | null
      expires_at: Date | null
    }[]
  >`
    select s.id, s.format, s.account_id, s.rate_limit_per_minute, s.verification, s.mapping,
      s.api_base_url is not null as has_api, k.secret_enc, k.expires_at
    from sources s left join source_secrets k on k.source_id = s.id
    where s.id = ${id} and s.enabled`
  const first = rows[0]
  if (!first) return undefined
  const now = deps.clock.now().getTime()
  const secrets = rows
    .filter((r) => r.secret_enc && (r.expires_at === null || r.expires_at.getTime() > now))
    .map((r) => ({
      value: deps.box.open(r.secret_enc as Buffer),
      expiresAt: r.expires_at?.getTime() ?? null,
    }))
  return {
    id: first.id,
    format: first.format,
    account_id: first.account_id,
    rate_limit_per_minute: first.rate_limit_per_minute,
    verification: VerificationConfig.parse(first.verification),
    mapping: first.mapping,
    has_api: first.has_api,
    secrets,
  }
}

/** The BSS API of a source with its credentials opened, or undefined when it has none. */
export async function loadBssApi(
  sql: Sql,
  box: SecretBox,
  sourceId: string,
): Promise<{ sourceId: string; baseUrl: string; credentials: BssCredentials } | undefined> {
  const [row]: [{ api_base_url: string | null; api_credentials_enc: Buffer | null }?] = await sql`
    select api_base_url, api_credentials_enc from sources where id = ${sourceId}`
  if (!row?.api_base_url || !row.api_credentials_enc) return undefined
  return {
    sourceId,
    baseUrl: row.api_base_url,
    credentials: BssCredentials.parse(JSON.parse(box.open(row.api_credentials_enc))),
  }
}
