import type { Clock } from '../clock.js'
import type { Sql, Tx } from '../db/client.js'
import { type PageOrder, pageClause } from '../db/keyset.js'
import { D, formatMinor, type RoundingMode, roundMoney, toMinor } from './money.js'
import { getSettings } from './price-book.js'

export type InvoiceStatus = 'draft' | 'finalized' | 'void'

export type Invoice = {
  id: string
  tenant_id: string
  period: string
  currency: string
  status: InvoiceStatus
  number: string | null
  subtotal_minor: string
  tax_rate: string
  tax_minor: string
  total_minor: string
  created_at: Date
  updated_at: Date
  finalized_at: Date | null
  voided_at: Date | null
}

export type InvoiceLine = {
  id: string
  line_key: string
  subscription_id: string
  subscription_external_id: string
  account_id: string
  customer_external_id: string | null
  customer_name: string
  reseller_id: string | null
  reseller_name: string | null
  charge_type: string
  reference_id: string
  event_date: string
  charge_start: string
  charge_end: string
  sku: string
  product_name: string | null
  unit_price: string | null
  effective_unit_price: string | null
  quantity: number
  amount_minor: string
  currency: string
  adjustment: boolean
  unpriced: boolean
}

const INVOICE_COLUMNS = [
  'id',
  'tenant_id',
  'period',
  'currency',
  'status',
  'number',
  'subtotal_minor',
  'tax_rate',
  'tax_minor',
  'total_minor',
  'created_at',
  'updated_at',
  'finalized_at',
  'voided_at',
] as const

/** Rule 6: the total is the sum of rounded lines; tax on the subtotal, rounded once. */
export function totalsOf(subtotalMinor: bigint, taxRate: string, currency: string, mode: RoundingMode) {
  const tax = roundMoney(new D(formatMinor(subtotalMinor, currency)).times(taxRate), currency, mode)
  const taxMinor = toMinor(tax, currency)
  return {
    subtotal_minor: subtotalMinor.toString(),
    tax_minor: taxMinor.toString(),
    total_minor: (subtotalMinor + taxMinor).toString(),
  }
}

/** A draft's subtotal with what its tax needs. */
export type DraftSubtotal = { id: string; currency: string; tax_rate: string; subtotal: bigint }

export type Totals = { subtotal_minor: string; tax_minor: string; total_minor: string }

/** Recomputes subtotal, tax and total of drafts from their stored lines: one read, one write. */
export async function refreshTotalsOf(
  tx: Tx,
  invoiceIds: string[],
  runId: string | null,
  mode: RoundingMode,
): Promise<Map<string, Totals>> {
  const rows = await tx<{ id: string; currency: string; tax_rate: string; subtotal: string }[]>`
    select i.id, i.currency, i.tax_rate::text, coalesce(sum(l.amount_minor), 0)::text as subtotal
    from invoices i left join invoice_lines l on l.invoice_id = i.id
    where i.id = any(${invoiceIds}::uuid[]) group by i.id`
  return writeTotals(
    tx,
    rows.map((r) => ({ ...r, subtotal: BigInt(r.subtotal) })),
    runId,
    mode,
  )
}

/**
 * Writes drafts' totals from subtotals the caller already knows (a run has every line of its
 * drafts in hand, so it never reads them back): one statement for all of them.
 */
export async function writeTotals(
  tx: Tx,
  drafts: readonly DraftSubtotal[],
  runId: string | null,
  mode: RoundingMode,
): Promise<Map<string, Totals>> {
  const totals = new Map(drafts.map((d) => [d.id, totalsOf(d.subtotal, d.tax_rate, d.currency, mode)]))
  const list = [...totals]
  if (list.length > 0) {
    await tx`
      update invoices i set subtotal_minor = x.subtotal, tax_minor = x.tax, total_minor = x.total, updated_at = now(),
        last_run_id = coalesce(${runId}::uuid, i.last_run_id)
      from unnest(${list.map(([id]) => id)}::uuid[], ${list.map(([, t]) => t.subtotal_minor)}::bigint[],
        ${list.map(([, t]) => t.tax_minor)}::bigint[], ${list.map(([, t]) => t.total_minor)}::bigint[])
        as x(id, subtotal, tax, total)
      where i.id = x.id`
  }
  return totals
}

export type InvoiceFilter = {
  tenant_id?: string | undefined
  source_id?: string | undefined
  period?: string | undefined
  status?: InvoiceStatus | undefined
}

export const INVOICE_SORTS = ['created_at', 'updated_at', 'finalized_at'] as const

export async function listInvoices(
  sql: Sql,
  f: InvoiceFilter,
  limit: number,
  order: PageOrder<(typeof INVOICE_SORTS)[number]> = {},
): Promise<(Invoice & { sort_key: string | null })[]> {
  const p = pageClause(sql, order)
  return sql<(Invoice & { sort_key: string | null })[]>`
    select ${sql(INVOICE_COLUMNS)}, ${p.key} from invoices
    where true
      ${f.tenant_id ? sql`and tenant_id = ${f.tenant_id}` : sql``}
      ${f.source_id ? sql`and tenant_id = (select account_id from sources where id = ${f.source_id})` : sql``}
      ${f.period ? sql`and period = ${f.period}` : sql``}
      ${f.status ? sql`and status = ${f.status}` : sql``}
      ${p.after}
    order by ${p.orderBy} limit ${limit + 1}`
}

export async function getInvoice(sql: Sql | Tx, id: string): Promise<Invoice | undefined> {
  const [row]: [Invoice?] = await sql`select ${sql(INVOICE_COLUMNS)} from invoices where id = ${id}`
  return row
}

/** Lines with their end customer and, when it sits under one, the sub-reseller (rule 10 grouping). */
export async function invoiceLines(sql: Sql | Tx, invoiceId: string): Promise<InvoiceLine[]> {
  return sql<InvoiceLine[]>`
    select l.id::text, l.line_key, l.subscription_id, s.external_id as subscription_external_id, l.account_id,
      a.external_id as customer_external_id, a.name as customer_name,
      case when p.type = 'reseller' then p.id end as reseller_id,
      case when p.type = 'reseller' then p.name end as reseller_name,
      l.charge_type, l.reference_id, l.event_date::text, l.charge_start::text, l.charge_end::text, l.sku,
      l.product_name, l.unit_price::text, l.effective_unit_price::text, l.quantity, l.amount_minor::text, l.currency,
      l.adjustment, l.unpriced
    from invoice_lines l
    join subscriptions s on s.id = l.subscription_id
    join accounts a on a.id = l.account_id
    left join accounts p on p.id = a.parent_id
    where l.invoice_id = ${invoiceId}
    order by reseller_name nulls first, a.name, s.external_id, l.event_date, l.id`
}

export type FinalizeOutcome =
  | { outcome: 'finalized'; invoice: Invoice }
  | { outcome: 'not_found' }
  | { outcome: 'not_draft'; status: InvoiceStatus }

/**
 * Takes the next number of the year from a counter row that stays locked until commit: numbers
 * are unique and gapless however many finalizations run at once, and a rollback returns its number.
 */
export async function nextNumber(tx: Tx, kind: 'INV' | 'CN', year: number): Promise<string> {
  const [row]: [{ last: number }?] = await tx`
    insert into document_counters (kind, year, last) values (${kind}, ${year}, 1)
    on conflict (kind, year) do update set last = document_counters.last + 1
    returning last`
  return `${kind}-${year}-${String(row?.last).padStart(6, '0')}`
}

export async function finalizeInvoice(
  deps: { sql: Sql; clock: Clock },
  id: string,
): Promise<FinalizeOutcome> {
  return deps.sql.begin(async (tx) => {
    const [inv]: [{ status: InvoiceStatus; tenant_id: string }?] = await tx`
      select status, tenant_id from invoices where id = ${id} for update`
    if (!inv) return { outcome: 'not_found' as const }
    if (inv.status !== 'draft') return { outcome: 'not_draft' as const, status: inv.status }
    // Serializes with a run on the same reseller, so a draft is never finalized half-refreshed.
    await tx`select pg_advisory_xact_lock(hashtextextended(${`billing:${inv.tenant_id}`}, 0))`
    await refreshTotalsOf(tx, [id], null, (await getSettings(tx)).rounding_mode)
    const number = await nextNumber(tx, 'INV', deps.clock.now().getUTCFullYear())
    await tx`update invoices set status = 'finalized', number = ${number}, finalized_at = ${deps.clock.now()}, updated_at = now() where id = ${id}`
    return { outcome: 'finalized' as const, invoice: (await getInvoice(tx, id)) as Invoice }
  })
}

export async function voidInvoice(
  sql: Sql,
  id: string,
): Promise<FinalizeOutcome | { outcome: 'voided'; invoice: Invoice }> {
  return sql.begin(async (tx) => {
    const [inv]: [{ status: InvoiceStatus }?] =
      await tx`select status from invoices where id = ${id} for update`
    if (!inv) return { outcome: 'not_found' as const }
    if (inv.status === 'void') return { outcome: 'not_draft' as const, status: inv.status }
    await tx`update invoices set status = 'void', voided_at = now(), updated_at = now() where id = ${id}`
    await tx`update invoice_lines set void = true where invoice_id = ${id}`
    return { outcome: 'voided' as const, invoice: (await getInvoice(tx, id)) as Invoice }
  })
}
