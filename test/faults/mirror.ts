import { setTimeout as sleep } from 'node:timers/promises'
import type { Sql } from '../../src/db/client.js'
import type { Delivery, DeliveryResult } from '../../src/sim/send.js'

/**
 * What the mirror must hold after a load, derived from the deliveries the service acknowledged
 * (2xx) alone, and the check of one source's rows against it. "Lost" counts acknowledged
 * deliveries whose effect is missing: no inbox row, a row not applied, or its version absent from
 * the history.
 */

type Event = {
  type: string
  sequence: number
  data: { id: string; quantity?: number; paid?: boolean }
}

export function acknowledged(
  deliveries: readonly Delivery[],
  results: readonly DeliveryResult[],
): Delivery[] {
  return deliveries.filter((_, i) => {
    const status = results[i]?.status ?? 0
    return status >= 200 && status < 300
  })
}

export type Expected = {
  webhookIds: Set<string>
  /** Subscription external id -> quantity of its highest acknowledged sequence. */
  quantities: Map<string, number>
  /** `kind:id:sequence` of every acknowledged version. */
  versions: Set<string>
  accounts: number
}

export function expectedMirror(acked: readonly Delivery[]): Expected {
  const latest = new Map<string, { sequence: number; quantity: number }>()
  const versions = new Set<string>()
  const accounts = new Set<string>()
  for (const d of acked) {
    const e = JSON.parse(d.body) as Event
    const kind = e.type.split('.')[0] ?? ''
    // An unpaid state creates nothing, not even history (CONTRACT section 3).
    if (kind === 'subscription' && e.data.paid === false) continue
    versions.add(`${kind}:${e.data.id}:${e.sequence}`)
    if (kind === 'account') accounts.add(e.data.id)
    if (kind !== 'subscription') continue
    const seen = latest.get(e.data.id)
    if (!seen || e.sequence > seen.sequence)
      latest.set(e.data.id, { sequence: e.sequence, quantity: e.data.quantity ?? -1 })
  }
  return {
    webhookIds: new Set(acked.map((d) => d.webhookId)),
    quantities: new Map([...latest].map(([id, v]) => [id, v.quantity])),
    versions,
    accounts: accounts.size,
  }
}

/** Waits until no row of the source is received or processing (parked ones are not settled). */
export async function settledInbox(sql: Sql, sourceId: string, ms: number): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from inbox
      where source_id = ${sourceId} and status in ('received', 'processing', 'waiting')`
    if (row?.n === 0) return
    if (Date.now() > until) throw new Error(`${row?.n} inbox rows still unsettled after ${ms} ms`)
    await sleep(200)
  }
}

export type MirrorCheck = {
  statuses: Record<string, number>
  /** Acknowledged rows applied in effect: applied, stale (joined the history) or ignored_unpaid. */
  applied: number
  lost: number
  /** Acknowledged webhook ids without an inbox row. */
  missingRows: number
  /** Acknowledged versions absent from the history. */
  missingVersions: number
  /** History rows beyond one per (object, version), and beyond one per inbox row. */
  duplicateHistory: number
  /** Subscriptions whose quantity differs from the last acknowledged sequence's, or unexpected ones. */
  wrongQuantities: string[]
  subscriptions: number
  accounts: number
}

export async function checkMirror(sql: Sql, sourceId: string, expected: Expected): Promise<MirrorCheck> {
  const inbox = await sql<{ webhook_id: string; status: string }[]>`
    select webhook_id, status from inbox where source_id = ${sourceId}`
  const statuses: Record<string, number> = {}
  const settledIds = new Set<string>()
  const storedIds = new Set<string>()
  for (const r of inbox) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    storedIds.add(r.webhook_id)
    if (['applied', 'stale', 'ignored_unpaid'].includes(r.status)) settledIds.add(r.webhook_id)
  }
  const missingRows = [...expected.webhookIds].filter((id) => !storedIds.has(id)).length
  const unapplied = [...expected.webhookIds].filter((id) => storedIds.has(id) && !settledIds.has(id)).length

  const history = await sql<{ key: string; inbox_id: string | null }[]>`
    select 'subscription:' || s.external_id || ':' || v.sequence as key, v.inbox_id::text
    from subscription_versions v join subscriptions s on s.id = v.subscription_id
    where s.source_id = ${sourceId}
    union all
    select 'account:' || a.external_id || ':' || v.sequence, v.inbox_id::text
    from account_versions v join accounts a on a.id = v.account_id
    where a.source_id = ${sourceId}`
  const keys = new Set(history.map((h) => h.key))
  const inboxIds = history.flatMap((h) => (h.inbox_id === null ? [] : [h.inbox_id]))
  const duplicateHistory = history.length - keys.size + (inboxIds.length - new Set(inboxIds).size)
  const missingVersions = [...expected.versions].filter((k) => !keys.has(k)).length

  const subs = await sql<{ external_id: string; quantity: number }[]>`
    select external_id, quantity from subscriptions where source_id = ${sourceId}`
  const wrongQuantities = subs
    .filter((s) => expected.quantities.get(s.external_id) !== s.quantity)
    .map((s) => `${s.external_id}: ${s.quantity} != ${expected.quantities.get(s.external_id)}`)
  const [accounts] = await sql<{ n: number }[]>`
    select count(*)::int as n from accounts where source_id = ${sourceId}`
  return {
    statuses,
    applied: settledIds.size,
    lost: missingRows + unapplied + missingVersions,
    missingRows,
    missingVersions,
    duplicateHistory,
    wrongQuantities,
    subscriptions: subs.length,
    accounts: accounts?.n ?? 0,
  }
}

/** One JSON line per scenario on stdout: what it sent, what was acknowledged, applied and lost. */
export function printFigures(scenario: string, figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ scenario, ...figures })}\n`)
}

/** The figures every scenario reports: sent, acknowledged, applied, lost, duplicate history, time. */
export function lossFigures(sent: number, acknowledged: number, mirror: MirrorCheck, startedMs: number) {
  return {
    sent,
    acknowledged,
    applied: mirror.applied,
    lost: mirror.lost,
    duplicates_in_history: mirror.duplicateHistory,
    elapsed_s: Math.round((performance.now() - startedMs) / 100) / 10,
  }
}
