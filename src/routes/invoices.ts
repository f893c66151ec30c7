import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { createCreditNote, listCreditNotes, NewCreditNote } from '../billing/credit-notes.js'
import { invoiceCsv } from '../billing/export-csv.js'
import { invoicePdf } from '../billing/export-pdf.js'
import {
  finalizeInvoice,
  getInvoice,
  INVOICE_SORTS,
  type Invoice,
  invoiceLines,
  listInvoices,
  voidInvoice,
} from '../billing/invoices.js'
import { formatMinor as presentMoney } from '../billing/money.js'
import { presentInvoice } from '../billing/present.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'
import { PageQuery } from './pagination.js'
import { decodePageCursor, listPage, sortParam } from './sort-cursor.js'

const Money = z.string().openapi({ description: 'decimal string in the invoice currency, e.g. "84.38"' })
const InvoiceSummary = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    period: z.string(),
    currency: z.string(),
    status: z.enum(['draft', 'finalized', 'void']),
    number: z.string().nullable(),
    subtotal: Money,
    tax_rate: z.string(),
    tax: Money,
    total: Money,
  })
  .openapi('InvoiceSummary')
const InvoiceLine = z
  .object({
    id: z.string(),
    subscription_id: z.uuid(),
    subscription_external_id: z.string(),
    account_id: z.uuid(),
    charge_type: z.string(),
    reference_id: z.string(),
    event_date: z.string(),
    charge_start: z.string(),
    charge_end: z.string(),
    sku: z.string(),
    product_name: z.string().nullable(),
    unit_price: z.string().nullable(),
    effective_unit_price: z.string().nullable(),
    quantity: z.number().int(),
    amount: Money,
    adjustment: z.boolean(),
    unpriced: z.boolean(),
  })
  .openapi('InvoiceLine')
const InvoiceDetail = InvoiceSummary.extend({
  tenant: z.object({ id: z.uuid(), name: z.string() }),
  groups: z.array(
    z.object({
      reseller: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
      customer: z.object({ id: z.string(), external_id: z.string().nullable(), name: z.string() }),
      subtotal: Money,
      line_ids: z.array(z.string()),
    }),
  ),
  lines: z.array(InvoiceLine),
}).openapi('Invoice')
const CreditNote = z
  .object({
    id: z.uuid(),
    number: z.string(),
    invoice_id: z.uuid(),
    currency: z.string(),
    reason: z.string().nullable(),
    total: Money,
    lines: z.array(z.object({ invoice_line_id: z.string(), amount: Money })),
  })
  .openapi('CreditNote')

export function invoicesRoutes(deps: Deps) {
  const { sql } = deps
  const app = router()
  app.use('*', byMethod(sql, 'billing'))
  const tag = ['Invoices']

  const summary = (i: Invoice) => {
    const { subtotal, tax, total } = presentInvoice(i, [], '')
    return {
      id: i.id,
      tenant_id: i.tenant_id,
      period: i.period,
      currency: i.currency,
      status: i.status,
      number: i.number,
      subtotal,
      tax_rate: i.tax_rate,
      tax,
      total,
    }
  }
  async function load(id: string) {
    const invoice = await getInvoice(sql, id)
    if (!invoice) throw new AppError('not_found', { message: 'no such invoice' })
    const [tenant] = await sql<{ name: string }[]>`select name from accounts where id = ${invoice.tenant_id}`
    return { invoice, lines: await invoiceLines(sql, id), tenantName: tenant?.name ?? '' }
  }

  // Exports first: `/{id}.csv` must not be taken for a malformed `/{id}`.
  app.get('/:id{[0-9a-f-]{36}\\.csv}', async (c) => {
    const { invoice, lines, tenantName } = await load(c.req.param('id').slice(0, 36))
    c.header('content-type', 'text/csv; charset=utf-8')
    c.header('content-disposition', `attachment; filename="${invoice.number ?? invoice.id}.csv"`)
    return c.body(invoiceCsv(invoice, lines, tenantName))
  })
  app.get('/:id{[0-9a-f-]{36}\\.pdf}', async (c) => {
    const { invoice, lines, tenantName } = await load(c.req.param('id').slice(0, 36))
    if (invoice.status !== 'finalized')
      throw new AppError('invoice_not_finalized', { message: 'a PDF exists only for a finalized invoice' })
    c.header('content-type', 'application/pdf')
    c.header('content-disposition', `attachment; filename="${invoice.number}.pdf"`)
    return c.body(new Uint8Array(await invoicePdf(invoice, lines, tenantName)))
  })

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: tag,
      summary: 'List invoices',
      request: {
        query: z.object({
          source_id: z.uuid().optional(),
          tenant_id: z.uuid().optional(),
          period: z
            .string()
            .regex(/^\d{4}-\d{2}$/)
            .optional(),
          status: z.enum(['draft', 'finalized', 'void']).optional(),
          ...PageQuery,
          sort: sortParam(INVOICE_SORTS),
        }),
      },
      responses: {
        200: json(
          z.object({ data: z.array(InvoiceSummary), next_cursor: z.string().optional() }),
          'invoices',
        ),
        ...errors(400, 401, 403),
      },
    }),
    async (c) => {
      const { limit, cursor, sort, ...filter } = c.req.valid('query')
      const rows = await listInvoices(sql, filter, limit, { sort, after: decodePageCursor(cursor, sort) })
      const body = listPage(rows, limit, sort)
      return c.json({ ...body, data: body.data.map(summary) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: tag,
      summary: 'One invoice with its lines (each with charge_type), grouped by sub-reseller and end customer',
      request: { params: IdParam },
      responses: {
        200: json(z.object({ data: InvoiceDetail }), 'the invoice'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { invoice, lines, tenantName } = await load(c.req.valid('param').id)
      return c.json({ data: presentInvoice(invoice, lines, tenantName) }, 200)
    },
  )

  for (const action of ['finalize', 'void'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{id}/${action}`,
        tags: tag,
        summary:
          action === 'finalize'
            ? 'Finalize a draft: assigns the next gapless number of the year'
            : 'Void an invoice (its lines stop counting as billed)',
        request: { params: IdParam },
        responses: {
          200: json(z.object({ data: InvoiceSummary }), 'done'),
          ...errors(400, 401, 403, 404, 409),
        },
      }),
      async (c) => {
        const id = c.req.valid('param').id
        const result = action === 'finalize' ? await finalizeInvoice(deps, id) : await voidInvoice(sql, id)
        switch (result.outcome) {
          case 'not_found':
            throw new AppError('not_found', { message: 'no such invoice' })
          case 'not_draft':
            throw new AppError('invoice_not_draft', { message: `invoice is ${result.status}` })
          case 'finalized':
          case 'voided':
            return c.json({ data: summary(result.invoice) }, 200)
        }
      },
    )
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/credit-notes',
      tags: tag,
      summary: 'Credit lines of a finalized invoice (never more than a line)',
      request: { params: IdParam, body: jsonBody(NewCreditNote) },
      responses: {
        201: json(z.object({ data: CreditNote }), 'created'),
        ...errors(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const result = await createCreditNote(deps, c.req.valid('param').id, c.req.valid('json'))
      switch (result.outcome) {
        case 'not_found':
          throw new AppError('not_found', { message: 'no such invoice' })
        case 'not_finalized':
          throw new AppError('invoice_not_finalized', {
            message: 'credit notes apply to finalized invoices only',
          })
        case 'invalid':
          throw new AppError('bad_request', {
            message: 'credit note lines are invalid',
            details: result.details,
          })
        case 'exceeds_line':
          throw new AppError('credit_exceeds_line', { message: result.message })
        case 'created':
          return c.json({ data: presentCreditNote(result.creditNote) }, 201)
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/credit-notes',
      tags: tag,
      summary: 'Credit notes of an invoice',
      request: { params: IdParam },
      responses: {
        200: json(z.object({ data: z.array(CreditNote) }), 'credit notes'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      if (!(await getInvoice(sql, id))) throw new AppError('not_found', { message: 'no such invoice' })
      return c.json({ data: (await listCreditNotes(sql, id)).map(presentCreditNote) }, 200)
    },
  )
  return app
}

function presentCreditNote(n: Awaited<ReturnType<typeof listCreditNotes>>[number]) {
  const money = (m: string) => presentMoney(m, n.currency)
  return {
    id: n.id,
    number: n.number,
    invoice_id: n.invoice_id,
    currency: n.currency,
    reason: n.reason,
    total: money(n.total_minor),
    lines: n.lines.map((l) => ({ invoice_line_id: l.invoice_line_id, amount: money(l.amount_minor) })),
  }
}

/**
 * The exports are plain routes (a regex path: `/{id}.csv` must not be read as a malformed `/{id}`),
 * so their documentation is registered on the app's own registry.
 */
export function documentInvoiceExports(registry: OpenAPIHono['openAPIRegistry']): void {
  for (const ext of ['csv', 'pdf'] as const) {
    registry.registerPath({
      method: 'get',
      path: `/v1/invoices/{id}.${ext}`,
      tags: ['Invoices'],
      summary:
        ext === 'csv'
          ? 'The invoice as CSV (reconciliation-style columns)'
          : 'The PDF of a finalized invoice',
      request: { params: IdParam },
      responses: {
        200: {
          description: ext,
          content: { [ext === 'csv' ? 'text/csv' : 'application/pdf']: { schema: z.string() } },
        },
        ...errors(401, 404, 409),
      },
    })
  }
}
