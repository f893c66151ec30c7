import { stringify } from 'csv-stringify/sync'
import type { Invoice, InvoiceLine } from './invoices.js'
import { formatMinor } from './money.js'

/** Named like Microsoft's reconciliation file where they mean the same (BILLING.md rule 10). */
export const CSV_COLUMNS = [
  'SubscriptionId',
  'ReferenceId',
  'ChargeType',
  'ChargeStartDate',
  'ChargeEndDate',
  'UnitPrice',
  'EffectiveUnitPrice',
  'Quantity',
  'Subtotal',
  'Currency',
  'CustomerId',
  'CustomerName',
  'ResellerName',
  'Sku',
  'ProductName',
  'InvoiceNumber',
  'Adjustment',
  'Unpriced',
] as const

export function invoiceCsv(invoice: Invoice, lines: InvoiceLine[], tenantName: string): string {
  const rows = lines.map((l) => [
    l.subscription_external_id,
    l.reference_id,
    l.charge_type,
    l.charge_start,
    l.charge_end,
    l.unit_price ?? '',
    l.effective_unit_price ?? '',
    l.quantity,
    formatMinor(l.amount_minor, invoice.currency),
    invoice.currency,
    l.customer_external_id ?? '',
    l.customer_name,
    l.reseller_name ?? tenantName,
    l.sku,
    l.product_name ?? '',
    invoice.number ?? '',
    l.adjustment ? 'true' : 'false',
    l.unpriced ? 'true' : 'false',
  ])
  return stringify([[...CSV_COLUMNS], ...rows], { record_delimiter: 'windows' })
}
