import { expect } from 'vitest'
import { bearer, type TestApp } from './app.js'
import { eventually } from './worker.js'

const json = { 'content-type': 'application/json' }

export async function api<T = Record<string, unknown>>(
  t: TestApp,
  method: string,
  path: string,
  body?: unknown,
  key = t.adminKey,
) {
  const res = await t.app.request(path, {
    method,
    headers: { ...bearer(key), ...json },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return {
    status: res.status,
    body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T,
    headers: res.headers,
  }
}

export async function addPrice(
  t: TestApp,
  sku: string,
  unitPrice: string,
  over: Record<string, unknown> = {},
) {
  const res = await api(t, 'POST', '/v1/price-book/prices', {
    sku,
    billing_cycle: 'monthly',
    term: null,
    currency: 'EUR',
    unit_price: unitPrice,
    effective_from: '2020-01-01',
    ...over,
  })
  expect(res.status).toBe(201)
}

export type RunReport = {
  resellers: number
  lines_added: number
  lines_removed: number
  errors: { code: string; sku: string }[]
  invoices: { invoice_id: string; period: string; total_minor: string; lines_added: number }[]
}

/** Starts a run through the API and waits for the billing worker to finish it. */
export async function runInvoices(
  t: TestApp,
  body: { period: string; source_id?: string; dry_run?: boolean },
): Promise<RunReport> {
  const res = await api<{ data: { id: string; status: string } }>(t, 'POST', '/v1/invoice-runs', body)
  expect(res.status).toBe(202)
  const id = res.body.data.id
  const run = await eventually(async () => {
    const r = await api<{ data: { status: string; report: RunReport; error: string | null } }>(
      t,
      'GET',
      `/v1/invoice-runs/${id}`,
    )
    return r.body.data.status === 'succeeded' || r.body.data.status === 'failed' ? r.body.data : undefined
  }, 30_000)
  expect(run.error).toBeNull()
  expect(run.status).toBe('succeeded')
  return run.report
}

export type InvoiceJson = {
  id: string
  number: string | null
  status: string
  period: string
  subtotal: string
  tax: string
  total: string
  lines: {
    id: string
    charge_type: string
    quantity: number
    amount: string
    adjustment: boolean
    unpriced: boolean
    subscription_external_id: string
    charge_start: string
    charge_end: string
    effective_unit_price: string | null
  }[]
  groups: { reseller: { name: string } | null; customer: { name: string }; subtotal: string }[]
}

export async function invoiceOf(t: TestApp, id: string): Promise<InvoiceJson> {
  const res = await api<{ data: InvoiceJson }>(t, 'GET', `/v1/invoices/${id}`)
  expect(res.status).toBe(200)
  return res.body.data
}
