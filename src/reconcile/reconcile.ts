import type { BssClient } from '../callback/client.js'
import type { Clock } from '../clock.js'
import { jsonParam, type Sql } from '../db/client.js'
import type { Logger } from '../log.js'
import { cloudblueConnectMapper } from '../mappers/cloudblue-connect.js'
import type { Operation } from '../mappers/operations.js'
import { partnerCenterMapper } from '../mappers/partner-center.js'
import type { EventRef } from '../queue/jobs.js'
import type { SecretBox } from '../sources/secret-box.js'
import { loadBssApi, type SourceFormat } from '../sources/sources.js'
import { pullerFor } from './pull.js'

export type ReconcileDeps = {
  sql: Sql
  box: SecretBox
  client: BssClient
  clock: Clock
  log: Logger
  enqueue: (refs: EventRef[]) => void
}

export type ReconcileReport = {
  started_at: string
  finished_at: string
  accounts_seen: number
  subscriptions_seen: number
  /** Objects whose state in the BSS differs from ours (or that we never received). */
  drifted: { kind: 'account' | 'subscription'; id: string }[]
  /** Objects we hold that the BSS no longer lists: reported, never deleted on a listing's word. */
  not_in_bss: { kind: 'account' | 'subscription'; id: string }[]
  unreadable: { kind: 'account' | 'subscription'; id: string | null; reason: string }[]
}

const REPORT_LIMIT = 200

/**
 * Pulls every account and subscription of a source from its BSS and repairs drift left by missed
 * webhooks. The repair goes through the inbox like any delivery (origin `reconcile`, a canonical
 * body, event kind `account.reconciled` / `subscription.reconciled`): the same worker applies it
 * under the same locks and version rules, and it shows in the history and the events API.
 * Objects that match what we hold add nothing.
 */
export async function reconcileSource(deps: ReconcileDeps, sourceId: string): Promise<ReconcileReport> {
  const started = deps.clock.now()
  const [source]: [{ format: SourceFormat }?] =
    await deps.sql`select format from sources where id = ${sourceId}`
  if (!source) throw new Error(`no source ${sourceId}`)
  const api = await loadBssApi(deps.sql, deps.box, sourceId)
  const pull = pullerFor(source.format, {
    partnerCenter: partnerCenterMapper,
    cloudblueConnect: cloudblueConnectMapper,
  })
  if (!api || !pull) throw new Error(`source ${sourceId} has no BSS API to reconcile from`)

  const stored = await storedStates(deps.sql, sourceId)
  const seen = { account: new Set<string>(), subscription: new Set<string>() }
  const report: ReconcileReport = {
    started_at: started.toISOString(),
    finished_at: '',
    accounts_seen: 0,
    subscriptions_seen: 0,
    drifted: [],
    not_in_bss: [],
    unreadable: [],
  }
  const repairs: { kind: 'account' | 'subscription'; id: string; body: string }[] = []
  const get = (path: string, query?: Record<string, string>) => deps.client.getJson(api, path, query)
  for await (const item of pull(get, started)) {
    if (!item.ok) {
      if (report.unreadable.length < REPORT_LIMIT) report.unreadable.push(item)
      continue
    }
    const { op } = item
    const id = op.kind === 'account' && op.action === 'close' ? op.id : op.state.id
    if (seen[op.kind].has(id)) continue
    seen[op.kind].add(id)
    if (op.kind === 'account') report.accounts_seen++
    else report.subscriptions_seen++
    if (op.kind === 'subscription' && !op.state.paid) continue // only paid subscriptions are mirrored
    const have = stored[op.kind].get(id)
    const state = op.kind === 'account' && op.action === 'close' ? undefined : op.state
    if (state !== undefined && have !== undefined && sameState(have, state)) continue
    repairs.push({ kind: op.kind, id, body: JSON.stringify(canonicalEvent(op)) })
    if (report.drifted.length < REPORT_LIMIT) report.drifted.push({ kind: op.kind, id })
  }
  for (const kind of ['account', 'subscription'] as const) {
    for (const id of stored[kind].keys()) {
      if (!seen[kind].has(id) && report.not_in_bss.length < REPORT_LIMIT) report.not_in_bss.push({ kind, id })
    }
  }

  const refs = await queueRepairs(deps.sql, sourceId, started, repairs)
  deps.enqueue(refs)
  report.finished_at = deps.clock.now().toISOString()
  await deps.sql`
    update sources set reconciled_at = ${deps.clock.now()}, reconcile_report = ${jsonParam(deps.sql, report)}
    where id = ${sourceId}`
  deps.log.info(
    { sourceId, drifted: repairs.length, seen: report.accounts_seen + report.subscriptions_seen },
    'reconciled',
  )
  return report
}

/** The canonical event a repair carries: the object's full state as the BSS holds it now. */
function canonicalEvent(op: Operation) {
  const occurred_at = op.version.occurredAt.toISOString()
  if (op.kind === 'account') {
    return op.action === 'close'
      ? { type: 'account.deleted', occurred_at, data: { id: op.id } }
      : { type: 'account.updated', occurred_at, data: op.state }
  }
  return { type: 'subscription.updated', occurred_at, data: op.state }
}

async function queueRepairs(
  sql: Sql,
  sourceId: string,
  at: Date,
  repairs: { kind: 'account' | 'subscription'; id: string; body: string }[],
): Promise<EventRef[]> {
  if (repairs.length === 0) return []
  const stamp = at.toISOString()
  const rows = await sql<{ id: string; generation: number }[]>`
    insert into inbox (source_id, webhook_id, event_type, occurred_at, object_id, body, origin, enqueued_at)
    select ${sourceId}, 'reconcile:' || ${stamp} || ':' || r.kind || ':' || r.id, r.kind || '.reconciled',
      ${at}, r.id, r.body, 'reconcile', now()
    from unnest(${repairs.map((r) => r.kind)}::text[], ${repairs.map((r) => r.id)}::text[],
      ${repairs.map((r) => r.body)}::text[]) as r(kind, id, body)
    on conflict (source_id, webhook_id) do nothing
    returning id::text, generation`
  return rows
}

/** The latest stored state of each object of the source, by its BSS id. */
async function storedStates(sql: Sql, sourceId: string) {
  const accounts = await sql<{ external_id: string; state: unknown }[]>`
    select a.external_id, v.state from accounts a
    join account_versions v on v.account_id = a.id and v.version_key = a.version_key
    where a.source_id = ${sourceId}`
  const subscriptions = await sql<{ external_id: string; state: unknown }[]>`
    select s.external_id, v.state from subscriptions s
    join subscription_versions v on v.subscription_id = s.id and v.version_key = s.version_key
    where s.source_id = ${sourceId}`
  return {
    // The sync adds the account's own status to its state: an open one compares on the BSS's
    // fields alone; a closed one the BSS still lists is drift.
    account: new Map(
      accounts.map((r) => {
        const { status, ...rest } = r.state as { status?: string }
        return [r.external_id, status === 'closed' ? r.state : rest]
      }),
    ),
    // Stored with its status read (`status`) beside the BSS's own (`raw_status`): compare the latter.
    subscription: new Map(
      subscriptions.map((r) => {
        const { raw_status, ...rest } = r.state as { raw_status?: string; status?: string }
        return [r.external_id, raw_status === undefined ? r.state : { ...rest, status: raw_status }]
      }),
    ),
  }
}

function sameState(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b)
}

/** JSON with keys sorted and undefined dropped, so equal states compare equal however built. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}
