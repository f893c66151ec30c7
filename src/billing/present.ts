import type { Invoice, InvoiceLine } from './invoices.js'
import { formatMinor } from './money.js'

/** JSON form of an invoice: decimals as strings, lines grouped by sub-reseller and end customer. */
export function presentInvoice(invoice: Invoice, lines: InvoiceLine[], tenantName: string) {
  const money = (minor: string | bigint) => formatMinor(minor, invoice.currency)
  const presented = lines.map((l) => ({
    id: l.id,
    subscription_id: l.subscription_id,
    subscription_external_id: l.subscription_external_id,
    account_id: l.account_id,
    charge_type: l.charge_type,
    reference_id: l.reference_id,
    event_date: l.event_date,
    charge_start: l.charge_start,
    charge_end: l.charge_end,
    sku: l.sku,
    product_name: l.product_name,
    unit_price: l.unit_price,
    effective_unit_price: l.effective_unit_price,
    quantity: l.quantity,
    amount: money(l.amount_minor),
    adjustment: l.adjustment,
    unpriced: l.unpriced,
  }))
  return {
    id: invoice.id,
    tenant_id: invoice.tenant_id,
    number: invoice.number,
    status: invoice.status,
    period: invoice.period,
    currency: invoice.currency,
    tenant: { id: invoice.tenant_id, name: tenantName },
    subtotal: money(invoice.subtotal_minor),
    tax_rate: invoice.tax_rate,
    tax: money(invoice.tax_minor),
    total: money(invoice.total_minor),
    created_at: invoice.created_at,
    finalized_at: invoice.finalized_at,
    voided_at: invoice.voided_at,
    groups: groupLines(lines).map((g) => ({
      reseller: g.resellerId ? { id: g.resellerId, name: g.resellerName } : null,
      customer: { id: g.accountId, external_id: g.customerExternalId, name: g.customerName },
      subtotal: money(g.subtotalMinor),
      line_ids: g.lines.map((l) => l.id),
    })),
    lines: presented,
  }
}

export type LineGroup = {
  resellerId: string | null
  resellerName: string | null
  accountId: string
  customerExternalId: string | null
  customerName: string
  subtotalMinor: bigint
  lines: InvoiceLine[]
}

/** Lines arrive ordered by reseller and customer; consecutive runs form the groups. */
export function groupLines(lines: InvoiceLine[]): LineGroup[] {
  const groups: LineGroup[] = []
  for (const l of lines) {
    let g = groups[groups.length - 1]
    if (!g || g.accountId !== l.account_id) {
      g = {
        resellerId: l.reseller_id,
        resellerName: l.reseller_name,
        accountId: l.account_id,
        customerExternalId: l.customer_external_id,
        customerName: l.customer_name,
        subtotalMinor: 0n,
        lines: [],
      }
      groups.push(g)
    }
    g.lines.push(l)
    g.subtotalMinor += BigInt(l.amount_minor)
  }
  return groups
}
