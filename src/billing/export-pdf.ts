import type { Invoice, InvoiceLine } from './invoices.js'
import { formatMinor } from './money.js'
import { groupLines } from './present.js'

/**
 * The PDF of a finalized invoice: number, period, lines by sub-reseller and end customer, totals.
 * pdfkit (with its fonts, ~28 MB resident) is loaded on the first PDF, not by every API process.
 */
export async function invoicePdf(
  invoice: Invoice,
  lines: InvoiceLine[],
  tenantName: string,
): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit')
  const money = (m: string | bigint) => `${formatMinor(m, invoice.currency)} ${invoice.currency}`
  const doc = new PDFDocument({
    size: 'A4',
    margin: 40,
    info: { Title: `Invoice ${invoice.number ?? invoice.id}` },
  })
  const chunks: Buffer[] = []
  doc.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })

  doc.fontSize(18).text(`Invoice ${invoice.number ?? '(draft)'}`)
  doc
    .fontSize(10)
    .text(`Bill to: ${tenantName}`)
    .text(`Period: ${invoice.period}`)
    .text(`Status: ${invoice.status}`)
  if (invoice.finalized_at) doc.text(`Issued: ${invoice.finalized_at.toISOString().slice(0, 10)}`)
  doc.moveDown()

  let reseller: string | null | undefined
  for (const g of groupLines(lines)) {
    if (g.resellerName !== reseller) {
      reseller = g.resellerName
      doc
        .moveDown(0.5)
        .fontSize(12)
        .text(reseller ? `Reseller: ${reseller}` : 'Direct customers')
    }
    doc
      .fontSize(10)
      .text(`Customer: ${g.customerName}${g.customerExternalId ? ` (${g.customerExternalId})` : ''}`)
    for (const l of g.lines) {
      const what = `${l.charge_type}${l.adjustment ? ' (adjustment)' : ''} ${l.product_name ?? l.sku}`
      const when = `${l.charge_start}..${l.charge_end}`
      doc
        .fontSize(8)
        .text(`  ${l.subscription_external_id}  ${what}  ${when}  x${l.quantity}  ${money(l.amount_minor)}`)
    }
    doc.fontSize(9).text(`  Subtotal ${g.customerName}: ${money(g.subtotalMinor)}`)
  }
  doc.moveDown()
  doc.fontSize(10).text(`Subtotal: ${money(invoice.subtotal_minor)}`)
  doc.text(`Tax (${invoice.tax_rate}): ${money(invoice.tax_minor)}`)
  doc.fontSize(12).text(`Total: ${money(invoice.total_minor)}`)
  doc.end()
  return done
}
