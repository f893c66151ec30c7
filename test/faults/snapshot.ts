import type { Sql } from '../../src/db/client.js'

/**
 * Everything a source's events made, keyed by external ids so that two sources (or databases)
 * fed the same events compare field by field: the accounts, the subscriptions and their history.
 * Internal ids, timestamps of our own and the inbox row that last wrote are left out.
 */
export async function snapshot(sql: Sql, sourceId: string) {
  const accounts = await sql`
    select a.external_id, a.type, p.external_id as parent, p.type as parent_type, a.name, a.number, a.email,
      a.billing_address, a.status, a.closed_at, a.version_key, a.version_sequence, a.version_occurred_at
    from accounts a left join accounts p on p.id = a.parent_id
    where a.source_id = ${sourceId} order by a.external_id`
  const subscriptions = await sql`
    select s.external_id, a.external_id as account, p.external_id as parent, s.sku, s.product_name, s.status,
      s.raw_status, s.quantity, s.billing_cycle, s.term, s.start_date, s.end_date, s.activation_date,
      s.auto_renew, s.characteristics, s.version_key, s.version_sequence, s.version_occurred_at
    from subscriptions s join accounts a on a.id = s.account_id left join subscriptions p on p.id = s.parent_subscription_id
    where s.source_id = ${sourceId} order by s.external_id`
  const history = await sql`
    select 'subscription' as kind, s.external_id, v.version_key, v.event_type, v.sequence, v.occurred_at,
      v.effective_date, v.state
    from subscription_versions v join subscriptions s on s.id = v.subscription_id
    where s.source_id = ${sourceId}
    union all
    select 'account', a.external_id, v.version_key, v.event_type, v.sequence, v.occurred_at, v.effective_date, v.state
    from account_versions v join accounts a on a.id = v.account_id
    where a.source_id = ${sourceId}
    order by 1, 2, 3`
  const statuses = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from inbox where source_id = ${sourceId} group by status order by status`
  return {
    accounts: [...accounts],
    subscriptions: [...subscriptions],
    history: [...history],
    statuses: Object.fromEntries(statuses.map((s) => [s.status, s.n])),
  }
}

export type Snapshot = Awaited<ReturnType<typeof snapshot>>

/** The external ids whose rows differ between two snapshots, per table: a readable failure. */
export function differences(a: Snapshot, b: Snapshot): Record<string, string[]> {
  const diff = (
    xs: readonly Record<string, unknown>[],
    ys: readonly Record<string, unknown>[],
    key: string[],
  ) => {
    const id = (r: Record<string, unknown>) => key.map((k) => String(r[k])).join(':')
    const left = new Map(xs.map((r) => [id(r), JSON.stringify(r)]))
    const right = new Map(ys.map((r) => [id(r), JSON.stringify(r)]))
    return [...new Set([...left.keys(), ...right.keys()])].filter((k) => left.get(k) !== right.get(k)).sort()
  }
  return {
    accounts: diff(a.accounts, b.accounts, ['external_id']),
    subscriptions: diff(a.subscriptions, b.subscriptions, ['external_id']),
    history: diff(a.history, b.history, ['kind', 'external_id', 'version_key']),
  }
}
