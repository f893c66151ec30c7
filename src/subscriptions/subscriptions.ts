import type { Sql } from '../db/client.js'
import { type PageOrder, pageClause } from '../db/keyset.js'
import type { CanonicalStatus } from '../mappers/operations.js'

export type Subscription = {
  id: string
  source_id: string
  external_id: string
  tenant_id: string
  account_id: string
  parent_subscription_id: string | null
  sku: string
  product_name: string | null
  status: CanonicalStatus
  raw_status: string
  quantity: number
  billing_cycle: string
  term: string | null
  start_date: string | null
  end_date: string | null
  activation_date: string | null
  auto_renew: boolean
  characteristics: unknown[]
  version_sequence: string | null
  version_occurred_at: Date
  created_at: Date
  updated_at: Date
}

const COLUMNS = [
  'id',
  'source_id',
  'external_id',
  'tenant_id',
  'account_id',
  'parent_subscription_id',
  'sku',
  'product_name',
  'status',
  'raw_status',
  'quantity',
  'billing_cycle',
  'term',
  'auto_renew',
  'characteristics',
  'version_sequence',
  'version_occurred_at',
  'created_at',
  'updated_at',
] as const

export type SubscriptionFilter = {
  source_id?: string | undefined
  external_id?: string | undefined
  account_id?: string | undefined
  tenant_id?: string | undefined
  parent_subscription_id?: string | undefined
  status?: string | undefined
  sku?: string | undefined
}

export const SUBSCRIPTION_SORTS = ['created_at', 'updated_at'] as const

export async function listSubscriptions(
  sql: Sql,
  f: SubscriptionFilter,
  limit: number,
  order: PageOrder<(typeof SUBSCRIPTION_SORTS)[number]> = {},
) {
  const p = pageClause(sql, order)
  return sql<(Subscription & { sort_key: string | null })[]>`
    select ${sql(COLUMNS)}, start_date::text, end_date::text, activation_date::text, ${p.key} from subscriptions
    where true
      ${f.source_id ? sql`and source_id = ${f.source_id}` : sql``}
      ${f.external_id ? sql`and external_id = ${f.external_id}` : sql``}
      ${f.account_id ? sql`and account_id = ${f.account_id}` : sql``}
      ${f.tenant_id ? sql`and tenant_id = ${f.tenant_id}` : sql``}
      ${f.parent_subscription_id ? sql`and parent_subscription_id = ${f.parent_subscription_id}` : sql``}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${f.sku ? sql`and sku = ${f.sku}` : sql``}
      ${p.after}
    order by ${p.orderBy}
    limit ${limit + 1}`
}

export async function getSubscription(sql: Sql, id: string): Promise<Subscription | undefined> {
  const [row]: [Subscription?] = await sql`
    select ${sql(COLUMNS)}, start_date::text, end_date::text, activation_date::text from subscriptions where id = ${id}`
  return row
}

export type HistoryEntry = {
  inbox_id: string | null
  event_type: string
  sequence: string | null
  occurred_at: Date
  effective_date: string
  changes: Record<string, { before: unknown; after: unknown }>
}

type VersionRow = {
  inbox_id: string | null
  event_type: string
  sequence: string | null
  occurred_at: Date
  effective_date: string
  state: Record<string, unknown>
  before_state: Record<string, unknown> | null
}

/** Each version in the BSS's order, with the before and after of every field it changed. */
export async function historyOf(
  sql: Sql,
  kind: 'subscription' | 'account',
  id: string,
): Promise<HistoryEntry[]> {
  const rows =
    kind === 'subscription'
      ? await sql<VersionRow[]>`
          select inbox_id, event_type, sequence, occurred_at, effective_date::text, state, before_state
          from subscription_history where subscription_id = ${id}
          order by sequence nulls first, occurred_at, id`
      : await sql<VersionRow[]>`
          select inbox_id, event_type, sequence, occurred_at, effective_date::text, state, before_state
          from account_history where account_id = ${id}
          order by sequence nulls first, occurred_at, id`
  return rows.map(({ state, before_state, ...rest }) => ({
    ...rest,
    changes: diff(before_state ?? {}, state),
  }))
}

function diff(before: Record<string, unknown>, after: Record<string, unknown>) {
  const changes: Record<string, { before: unknown; after: unknown }> = {}
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[key] ?? null
    const a = after[key] ?? null
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[key] = { before: b, after: a }
  }
  return changes
}
