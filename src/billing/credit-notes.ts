import postgres from 'postgres'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { Sql, Tx } from '../db/client.js'
import { nextNumber } from './invoices.js'
import { D, minorDigits, toMinor } from './money.js'

export const NewCreditNote = z.object({
  reason: z.string().max(1000).optional(),
  lines: z
    .array(
      z.object({
        line_id: z.string().regex(/^\d{1,18}$/),
        amount: z.string().regex(/^\d{1,14}(\.\d{1,4})?$/, 'a positive decimal string, e.g. "12.50"'),
      }),
    )
    .min(1)
    .max(1000),
})
export type NewCreditNote = z.infer<typeof NewCreditNote>

export type CreditNote = {
  id: string
  number: string
  invoice_id: string
  currency: string
  reason: string | null
  total_minor: string
  created_at: Date
  lines: { invoice_line_id: string; amount_minor: string }[]
}

export type CreditOutcome =
  | { outcome: 'created'; creditNote: CreditNote }
  | { outcome: 'not_found' }
  | { outcome: 'not_finalized' }
  | { outcome: 'invalid'; details: { path: string; message: string }[] }
  | { outcome: 'exceeds_line'; message: string }

/**
 * A credit note against lines of a finalized invoice. It can never credit more than a line: the
 * check runs here with the lines locked, and again in a trigger for any other writer.
 */
export async function createCreditNote(
  deps: { sql: Sql; clock: Clock },
  invoiceId: string,
  input: NewCreditNote,
): Promise<CreditOutcome> {
  try {
    return await deps.sql.begin(async (tx) => {
      const [inv]: [{ status: string; tenant_id: string; currency: string }?] = await tx`
        select status, tenant_id, currency from invoices where id = ${invoiceId} for update`
      if (!inv) return { outcome: 'not_found' as const }
      if (inv.status !== 'finalized') return { outcome: 'not_finalized' as const }
      const details: { path: string; message: string }[] = []
      const amounts = input.lines.map((l, i) => {
        const value = new D(l.amount)
        if (value.decimalPlaces() > minorDigits(inv.currency) || value.lte(0)) {
          details.push({
            path: `lines.${i}.amount`,
            message: `a positive amount in ${inv.currency} minor units`,
          })
          return 0n
        }
        return toMinor(value, inv.currency)
      })
      const ids = input.lines.map((l) => l.line_id)
      const found = await tx<{ id: string }[]>`
        select id::text from invoice_lines where invoice_id = ${invoiceId} and id = any(${ids}::bigint[]) for update`
      const known = new Set(found.map((f) => f.id))
      ids.forEach((id, i) => {
        if (!known.has(id))
          details.push({ path: `lines.${i}.line_id`, message: 'not a line of this invoice' })
      })
      if (details.length > 0) return { outcome: 'invalid' as const, details }
      const total = amounts.reduce((a, b) => a + b, 0n)
      const number = await nextNumber(tx, 'CN', deps.clock.now().getUTCFullYear())
      const [note]: [{ id: string }?] = await tx`
        insert into credit_notes (number, invoice_id, tenant_id, currency, reason, total_minor)
        values (${number}, ${invoiceId}, ${inv.tenant_id}, ${inv.currency}, ${input.reason ?? null}, ${total.toString()})
        returning id`
      await tx`
        insert into credit_note_lines (credit_note_id, invoice_line_id, amount_minor)
        select ${note?.id as string}, * from unnest(${ids}::bigint[], ${amounts.map(String)}::bigint[])`
      return {
        outcome: 'created' as const,
        creditNote: (await getCreditNote(tx, note?.id as string)) as CreditNote,
      }
    })
  } catch (err) {
    if (
      err instanceof postgres.PostgresError &&
      err.code === 'P0001' &&
      err.detail === 'credit_exceeds_line'
    ) {
      return { outcome: 'exceeds_line', message: err.message }
    }
    throw err
  }
}

function selectCreditNotes(sql: Sql | Tx, by: { id: string } | { invoiceId: string }) {
  return sql<CreditNote[]>`
    select c.id, c.number, c.invoice_id, c.currency, c.reason, c.total_minor::text, c.created_at,
      coalesce((select json_agg(json_build_object('invoice_line_id', l.invoice_line_id::text,
        'amount_minor', l.amount_minor::text) order by l.id) from credit_note_lines l where l.credit_note_id = c.id), '[]') as lines
    from credit_notes c
    where ${'id' in by ? sql`c.id = ${by.id}` : sql`c.invoice_id = ${by.invoiceId}`}
    order by c.number`
}

export async function getCreditNote(sql: Sql | Tx, id: string): Promise<CreditNote | undefined> {
  const [row] = await selectCreditNotes(sql, { id })
  return row
}

export function listCreditNotes(sql: Sql, invoiceId: string): Promise<CreditNote[]> {
  return selectCreditNotes(sql, { invoiceId })
}
