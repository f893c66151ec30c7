import type { Sql } from '../db/client.js'
import { jsonParam } from '../db/client.js'
import { type PageOrder, pageClause } from '../db/keyset.js'

export type Account = {
  id: string
  type: 'tenant_reseller' | 'reseller' | 'customer'
  tenant_id: string | null
  parent_id: string | null
  source_id: string | null
  external_id: string | null
  name: string
  number: string | null
  email: string | null
  billing_address: Record<string, unknown> | null
  tier: string | null
  currency: string | null
  status: 'active' | 'closed'
  notes: string | null
  tags: string[]
  custom_attributes: Record<string, unknown>
  created_at: Date
  updated_at: Date
}

const COLUMNS = [
  'id',
  'type',
  'tenant_id',
  'parent_id',
  'source_id',
  'external_id',
  'name',
  'number',
  'email',
  'billing_address',
  'tier',
  'currency',
  'status',
  'notes',
  'tags',
  'custom_attributes',
  'created_at',
  'updated_at',
] as const

export type AccountFilter = {
  source_id?: string | undefined
  external_id?: string | undefined
  type?: string | undefined
  parent_id?: string | undefined
  q?: string | undefined
}

export const ACCOUNT_SORTS = ['created_at', 'updated_at'] as const

export async function listAccounts(
  sql: Sql,
  f: AccountFilter,
  limit: number,
  order: PageOrder<(typeof ACCOUNT_SORTS)[number]> = {},
): Promise<(Account & { sort_key: string | null })[]> {
  const like = f.q ? `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : null
  const p = pageClause(sql, order)
  return sql<(Account & { sort_key: string | null })[]>`
    select ${sql(COLUMNS)}, ${p.key} from accounts
    where true
      ${f.source_id ? sql`and source_id = ${f.source_id}` : sql``}
      ${f.external_id ? sql`and external_id = ${f.external_id}` : sql``}
      ${f.type ? sql`and type = ${f.type}` : sql``}
      ${f.parent_id ? sql`and parent_id = ${f.parent_id}` : sql``}
      ${like ? sql`and (name ilike ${like} or number ilike ${like} or email ilike ${like} or external_id ilike ${like})` : sql``}
      ${p.after}
    order by ${p.orderBy}
    limit ${limit + 1}`
}

export async function getAccount(sql: Sql, id: string): Promise<Account | undefined> {
  const [row]: [Account?] = await sql`select ${sql(COLUMNS)} from accounts where id = ${id}`
  return row
}

export type TreeNode = {
  id: string
  name: string
  type: Account['type']
  external_id: string | null
  status: Account['status']
  subscriptions: number
  children: TreeNode[]
}

/** The hierarchy under an account, one query, assembled in memory. */
export async function accountTree(sql: Sql, id: string): Promise<TreeNode | undefined> {
  const rows = await sql<(Omit<TreeNode, 'children'> & { parent_id: string | null })[]>`
    with recursive tree as (
      select id, parent_id, 0 as depth from accounts where id = ${id}
      union all
      select a.id, a.parent_id, tree.depth + 1 from accounts a join tree on a.parent_id = tree.id where tree.depth < 32
    )
    select a.id, a.parent_id, a.name, a.type, a.external_id, a.status,
      (select count(*)::int from subscriptions s where s.account_id = a.id) as subscriptions
    from tree join accounts a using (id)
    order by case a.type when 'tenant_reseller' then 0 when 'reseller' then 1 else 2 end, a.name, a.id`
  const nodes = new Map(rows.map((r) => [r.id, { ...r, children: [] as TreeNode[] }]))
  for (const node of nodes.values()) {
    if (node.id !== id && node.parent_id) nodes.get(node.parent_id)?.children.push(node)
  }
  const strip = (n: TreeNode & { parent_id?: string | null }): TreeNode => {
    const { parent_id: _, ...rest } = n
    return { ...rest, children: n.children.map(strip) }
  }
  const root = nodes.get(id)
  return root && strip(root)
}

/** The reseller BSS owns these; PATCH answers 409 field_locked naming them. */
export const SYNCED_FIELDS = [
  'name',
  'number',
  'email',
  'billing_address',
  'type',
  'parent',
  'parent_id',
] as const

export type AccountPatch = {
  notes?: string | null | undefined
  tags?: string[] | undefined
  custom_attributes?: Record<string, unknown> | undefined
}

export async function patchAccount(sql: Sql, id: string, patch: AccountPatch): Promise<Account | undefined> {
  const [row]: [Account?] = await sql`
    update accounts set
      notes = ${patch.notes === undefined ? sql`notes` : patch.notes},
      tags = ${patch.tags === undefined ? sql`tags` : sql.array(patch.tags)},
      custom_attributes = ${patch.custom_attributes === undefined ? sql`custom_attributes` : jsonParam(sql, patch.custom_attributes)},
      updated_at = now()
    where id = ${id}
    returning ${sql(COLUMNS)}`
  return row
}
