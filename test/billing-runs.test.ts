import { extractText, getDocumentProxy } from 'unpdf'
import { describe, expect, it } from 'vitest'
import { runForTenant } from '../src/billing/runs.js'
import { scheduleMonthlyRun } from '../src/billing/worker.js'
import { frozenClock } from '../src/clock.js'
import { createSourceViaApi, createTestApp } from './helpers/app.js'
import { addPrice, api, invoiceOf, runInvoices } from './helpers/billing.js'
import { account, sender, settled, subscription } from './helpers/reseller.js'
import { eventually, startTestBillingWorker, startTestWorker } from './helpers/worker.js'

const t = await createTestApp({
  clock: frozenClock(new Date('2026-11-24T12:00:00Z')),
  env: { RATE_LIMIT_PER_MINUTE: '0' },
})
startTestWorker(t)
startTestBillingWorker(t)
await addPrice(t, 'M365', '12.00')
await addPrice(t, 'E5', '30.00')

/** A reseller whose customer buys the worked example's subscription: 5 seats on 03-10, 8 on 03-20. */
async function workedExample(name: string) {
  const source = await createSourceViaApi(t, { reseller: { name, currency: 'EUR', tier: 'basic' } })
  const bss = sender(t, source)
  expect((await bss.send(account('cust-1', { name: `${name} Customer` }))).status).toBe(202)
  const sub = {
    product: { sku: 'M365', name: 'Microsoft 365' },
    term: 'P1M',
    start_date: '2026-03-10',
    end_date: null,
    activation_date: '2026-03-10',
  }
  await bss.send(
    subscription('sub-1', 'cust-1', { ...sub, quantity: 5 }, { seq: 1, at: '2026-03-10T09:00:00Z' }),
  )
  await bss.send(
    subscription(
      'sub-1',
      'cust-1',
      { ...sub, quantity: 8 },
      { seq: 2, at: '2026-03-20T09:00:00Z', type: 'subscription.updated' },
    ),
  )
  await settled(t)
  return { source, bss, sub }
}

describe('invoice runs', () => {
  it('bills the worked example of BILLING.md to the cent, then the April cycle', async () => {
    const { source } = await workedExample('Worked Example Ltd')
    const march = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect(march.errors).toEqual([])
    const inv = await invoiceOf(t, march.invoices[0]?.invoice_id as string)
    expect(inv).toMatchObject({
      status: 'draft',
      period: '2026-03',
      subtotal: '84.38',
      tax: '0.00',
      total: '84.38',
    })
    expect(inv.lines.map((l) => [l.charge_type, l.quantity, l.amount, l.charge_start, l.charge_end])).toEqual(
      [
        ['new', 5, '60.00', '2026-03-10', '2026-04-09'],
        ['remove_quantity', -5, '-40.65', '2026-03-20', '2026-04-09'],
        ['add_quantity', 8, '65.03', '2026-03-20', '2026-04-09'],
      ],
    )
    const april = await runInvoices(t, { period: '2026-04', source_id: source.id })
    const aprilInv = await invoiceOf(t, april.invoices[0]?.invoice_id as string)
    expect(aprilInv.lines.map((l) => [l.charge_type, l.quantity, l.amount])).toEqual([
      ['cycle_charge', 8, '96.00'],
    ])
    expect(aprilInv.total).toBe('96.00')
  })

  it('a second run adds nothing', async () => {
    const { source } = await workedExample('Twice Ltd')
    const first = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect(first.lines_added).toBe(3)
    const second = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect({ added: second.lines_added, removed: second.lines_removed }).toEqual({ added: 0, removed: 0 })
    const invoiceId = first.invoices[0]?.invoice_id as string
    const [n] = await t.db.sql`select count(*)::int as n from invoice_lines where invoice_id = ${invoiceId}`
    expect(n?.n).toBe(3)
  })

  it('a draft is brought up to date when the history changes', async () => {
    const { source, bss, sub } = await workedExample('Refresh Ltd')
    const first = await runInvoices(t, { period: '2026-03', source_id: source.id })
    await bss.send(
      subscription(
        'sub-1',
        'cust-1',
        { ...sub, status: 'cancelled', quantity: 8 },
        { seq: 3, at: '2026-03-30T09:00:00Z', type: 'subscription.cancelled' },
      ),
    )
    await settled(t)
    const again = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect(again.invoices[0]?.invoice_id).toBe(first.invoices[0]?.invoice_id)
    const inv = await invoiceOf(t, first.invoices[0]?.invoice_id as string)
    // cancel on 03-30: 8 x 12 x 11/31 = 34.06 back
    expect(inv.lines.map((l) => [l.charge_type, l.amount])).toContainEqual(['cancel', '-34.06'])
    expect(inv.total).toBe('50.32')
  })

  it('run, late change, run: the finalized invoice is untouched; the difference lands on the next draft', async () => {
    const { source, bss, sub } = await workedExample('Late Ltd')
    const march = await runInvoices(t, { period: '2026-03', source_id: source.id })
    const marchId = march.invoices[0]?.invoice_id as string
    const fin = await api<{ data: { number: string; total: string } }>(
      t,
      'POST',
      `/v1/invoices/${marchId}/finalize`,
    )
    expect(fin.status).toBe(200)
    expect(fin.body.data.total).toBe('84.38')
    // A change on 03-25 (8 -> 10) arrives only now.
    await bss.send(
      subscription(
        'sub-1',
        'cust-1',
        { ...sub, quantity: 10 },
        { seq: 3, at: '2026-03-25T09:00:00Z', type: 'subscription.updated' },
      ),
    )
    await settled(t)
    const rerun = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect(rerun.invoices[0]?.period).toBe('2026-04')
    const april = await invoiceOf(t, rerun.invoices[0]?.invoice_id as string)
    // 16 days of 03-25..04-09 over 31: -8 x 6.193548 = -49.55, +10 x 6.193548 = 61.94; April cycle 10 x 12
    expect(april.lines.map((l) => [l.charge_type, l.adjustment, l.amount])).toEqual([
      ['remove_quantity', true, '-49.55'],
      ['add_quantity', true, '61.94'],
      ['cycle_charge', false, '120.00'],
    ])
    const marchAfter = await invoiceOf(t, marchId)
    expect({ status: marchAfter.status, total: marchAfter.total, lines: marchAfter.lines.length }).toEqual({
      status: 'finalized',
      total: '84.38',
      lines: 3,
    })
    await expect(t.db.sql`delete from invoice_lines where invoice_id = ${marchId}`).rejects.toThrow(
      /cannot change/,
    )
    const again = await runInvoices(t, { period: '2026-04', source_id: source.id })
    expect(again.lines_added).toBe(0)
    // Lines of an invoice that does not exist are refused too (checked per statement, not per row).
    await expect(
      t.db
        .sql`insert into invoice_lines (invoice_id, line_key, subscription_id, account_id, charge_type, reference_id,
        event_date, charge_start, charge_end, sku, quantity, amount_minor, currency)
        select gen_random_uuid(), gen_random_uuid(), subscription_id, account_id, charge_type, 'x', event_date,
          charge_start, charge_end, sku, 1, 1, 'EUR' from invoice_lines limit 1`,
    ).rejects.toThrow(/missing or not a draft/)
  })

  it('two concurrent runs for one reseller make one invoice', async () => {
    const { source } = await workedExample('Concurrent Ltd')
    const tenantId = (await t.db.sql`select account_id from sources where id = ${source.id}`)[0]
      ?.account_id as string
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        runForTenant(t.db.sql, { tenantId, period: '2026-03', runId: null, dryRun: false }),
      ),
    )
    expect(new Set(results.map((r) => r.invoice_id)).size).toBe(1)
    expect(results.map((r) => r.lines_added).sort()).toEqual([0, 0, 0, 3])
    const [n] = await t.db.sql`select count(*)::int as n from invoices where tenant_id = ${tenantId}`
    expect(n?.n).toBe(1)
  })

  it('concurrent finalizations take unique, gapless numbers', async () => {
    const drafts: string[] = []
    for (let i = 0; i < 8; i++) {
      const { source } = await workedExample(`Numbered ${i}`)
      drafts.push(
        (await runInvoices(t, { period: '2026-03', source_id: source.id })).invoices[0]?.invoice_id as string,
      )
    }
    const before = (
      await t.db
        .sql`select coalesce(max(last), 0)::int as n from document_counters where kind = 'INV' and year = 2026`
    )[0]?.n as number
    const results = await Promise.all(
      drafts.map((id) => api<{ data: { number: string } }>(t, 'POST', `/v1/invoices/${id}/finalize`)),
    )
    expect(results.map((r) => r.status)).toEqual(drafts.map(() => 200))
    const numbers = results.map((r) => r.body.data.number).sort()
    expect(numbers).toEqual(drafts.map((_, i) => `INV-2026-${String(before + i + 1).padStart(6, '0')}`))
    const twice = await api<{ error: { code: string } }>(t, 'POST', `/v1/invoices/${drafts[0]}/finalize`)
    expect([twice.status, twice.body.error.code]).toEqual([409, 'invoice_not_draft'])
  })

  it('credit notes can never credit more than a line', async () => {
    const { source } = await workedExample('Credit Ltd')
    const id = (await runInvoices(t, { period: '2026-03', source_id: source.id })).invoices[0]
      ?.invoice_id as string
    const draftCredit = await api<{ error: { code: string } }>(t, 'POST', `/v1/invoices/${id}/credit-notes`, {
      lines: [{ line_id: '1', amount: '1.00' }],
    })
    expect(draftCredit.status).toBe(409)
    await api(t, 'POST', `/v1/invoices/${id}/finalize`)
    const inv = await invoiceOf(t, id)
    const newLine = inv.lines.find((l) => l.charge_type === 'new')?.id as string
    const over = await api<{ error: { code: string } }>(t, 'POST', `/v1/invoices/${id}/credit-notes`, {
      lines: [{ line_id: newLine, amount: '60.01' }],
    })
    expect([over.status, over.body.error.code]).toEqual([422, 'credit_exceeds_line'])
    const ok = await api<{ data: { number: string; total: string } }>(
      t,
      'POST',
      `/v1/invoices/${id}/credit-notes`,
      { reason: 'goodwill', lines: [{ line_id: newLine, amount: '40.00' }] },
    )
    expect(ok.status).toBe(201)
    expect(ok.body.data.number).toMatch(/^CN-2026-\d{6}$/)
    expect(ok.body.data.total).toBe('40.00')
    const rest = await api<{ error: { code: string } }>(t, 'POST', `/v1/invoices/${id}/credit-notes`, {
      lines: [{ line_id: newLine, amount: '20.01' }],
    })
    expect(rest.status).toBe(422)
    const negative = inv.lines.find((l) => l.charge_type === 'remove_quantity')?.id as string
    const neg = await api(t, 'POST', `/v1/invoices/${id}/credit-notes`, {
      lines: [{ line_id: negative, amount: '1.00' }],
    })
    expect(neg.status).toBe(422)
    const notes = await api<{ data: unknown[] }>(t, 'GET', `/v1/invoices/${id}/credit-notes`)
    expect(notes.body.data).toHaveLength(1)
  })

  it('exports CSV with the reconciliation columns, and a PDF whose text shows number and total', async () => {
    const { source } = await workedExample('Export Ltd')
    const id = (await runInvoices(t, { period: '2026-03', source_id: source.id })).invoices[0]
      ?.invoice_id as string
    const draftPdf = await api(t, 'GET', `/v1/invoices/${id}.pdf`)
    expect(draftPdf.status).toBe(409)
    const fin = await api<{ data: { number: string } }>(t, 'POST', `/v1/invoices/${id}/finalize`)
    const csv = await api<string>(t, 'GET', `/v1/invoices/${id}.csv`)
    expect(csv.status).toBe(200)
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/)
    const [header, ...rows] = csv.body.trim().split('\r\n')
    expect(header?.split(',').slice(0, 10)).toEqual([
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
    ])
    expect(rows.map((r) => r.split(',').slice(0, 3).concat(r.split(',').slice(8, 10)))).toEqual([
      ['sub-1', expect.stringMatching(/^new-/), 'new', '60.00', 'EUR'],
      ['sub-1', expect.stringMatching(/^change-/), 'remove_quantity', '-40.65', 'EUR'],
      ['sub-1', expect.stringMatching(/^change-/), 'add_quantity', '65.03', 'EUR'],
    ])
    const res = await t.app.request(`/v1/invoices/${id}.pdf`, {
      headers: { authorization: `Bearer ${t.adminKey}` },
    })
    expect(res.status).toBe(200)
    const pdf = await getDocumentProxy(new Uint8Array(await res.arrayBuffer()))
    const { text } = await extractText(pdf, { mergePages: true })
    expect(text).toContain(fin.body.data.number)
    expect(text).toContain('Total: 84.38 EUR')
    expect(text).toContain('Customer: Export Ltd Customer')
  })

  it('prices with tier discount, per-reseller override and tax; flags unpriced lines in the report', async () => {
    await api(t, 'PUT', '/v1/price-book/tiers', { name: 'gold', discount: '0.10' })
    const source = await createSourceViaApi(t, {
      reseller: { name: 'Gold Ltd', tier: 'gold', currency: 'EUR' },
    })
    const tenantId = (await t.db.sql`select account_id from sources where id = ${source.id}`)[0]
      ?.account_id as string
    expect((await api(t, 'PATCH', `/v1/price-book/resellers/${tenantId}`, { tax_rate: '0.24' })).status).toBe(
      200,
    )
    expect(
      (
        await api(t, 'POST', '/v1/price-book/overrides', {
          tenant_id: tenantId,
          sku: 'E5',
          billing_cycle: 'monthly',
          term: null,
          currency: 'EUR',
          unit_price: '25.00',
          effective_from: '2020-01-01',
        })
      ).status,
    ).toBe(201)
    const bss = sender(t, source)
    await bss.send(account('g-1'))
    const common = { term: 'P1M', start_date: '2026-06-01', end_date: null, quantity: 2 }
    await bss.send(subscription('g-m365', 'g-1', { ...common, product: { sku: 'M365', name: 'M365' } }))
    await bss.send(subscription('g-e5', 'g-1', { ...common, product: { sku: 'E5', name: 'E5' } }))
    await bss.send(subscription('g-none', 'g-1', { ...common, product: { sku: 'NOT-IN-BOOK', name: '?' } }))
    await settled(t)
    const report = await runInvoices(t, { period: '2026-06', source_id: source.id })
    expect(report.errors).toEqual([expect.objectContaining({ code: 'unpriced', sku: 'NOT-IN-BOOK' })])
    const inv = await invoiceOf(t, report.invoices[0]?.invoice_id as string)
    const bySub = Object.fromEntries(
      inv.lines.map((l) => [l.subscription_external_id, [l.amount, l.unpriced]]),
    )
    // M365 12.00 less 10% = 10.80 x 2; E5 override 25.00 x 2 (no discount); the unknown sku is a flagged zero.
    expect(bySub).toEqual({ 'g-m365': ['21.60', false], 'g-e5': ['50.00', false], 'g-none': ['0.00', true] })
    expect({ subtotal: inv.subtotal, tax: inv.tax, total: inv.total }).toEqual({
      subtotal: '71.60',
      tax: '17.18',
      total: '88.78',
    })
  })

  it('a dry run previews through the same path and writes nothing; a voided invoice is billed again', async () => {
    const { source } = await workedExample('Dry Ltd')
    const dry = await runInvoices(t, { period: '2026-03', source_id: source.id, dry_run: true })
    expect(dry.invoices[0]?.total_minor).toBe('8438')
    expect(
      await t.db
        .sql`select 1 from invoices i join sources s on s.account_id = i.tenant_id where s.id = ${source.id}`,
    ).toHaveLength(0)
    const real = await runInvoices(t, { period: '2026-03', source_id: source.id })
    const id = real.invoices[0]?.invoice_id as string
    await api(t, 'POST', `/v1/invoices/${id}/finalize`)
    const voided = await api<{ data: { status: string } }>(t, 'POST', `/v1/invoices/${id}/void`)
    expect(voided.body.data.status).toBe('void')
    const rebill = await runInvoices(t, { period: '2026-03', source_id: source.id })
    expect(rebill.invoices[0]?.invoice_id).not.toBe(id)
    expect(rebill.invoices[0]?.total_minor).toBe('8438')
  })

  it('is scheduled monthly on the configured day, and a scheduled run bills the month that ended', async () => {
    await scheduleMonthlyRun(t.deps.queues, 3)
    const schedulers = await t.deps.queues.billing.getJobSchedulers()
    expect(schedulers.map((s) => [s.key, s.pattern, s.tz])).toEqual([
      ['monthly-invoice-run', '0 3 3 * *', 'UTC'],
    ])
    // What the scheduler enqueues on that day: the worker turns it into a run for the previous month.
    await t.deps.queues.billing.add('invoice-run', { scheduled: true }, { jobId: 'scheduled-test' })
    const run = await eventually(async () => {
      const [row] = await t.db
        .sql`select period, status, source_id from invoice_runs where period = '2026-10' and status = 'succeeded'`
      return row
    }, 30_000)
    expect(run).toEqual({ period: '2026-10', status: 'succeeded', source_id: null })
  })

  it('guards the billing routes: viewer reads, cannot run; validation errors name the field', async () => {
    const viewer = await t.keyFor('viewer')
    expect((await api(t, 'GET', '/v1/invoices', undefined, viewer)).status).toBe(200)
    expect((await api(t, 'POST', '/v1/invoice-runs', { period: '2026-03' }, viewer)).status).toBe(403)
    const billing = await t.keyFor('billing')
    const bad = await api<{ error: { code: string; details: { path: string }[] } }>(
      t,
      'POST',
      '/v1/invoice-runs',
      { period: '2026-13' },
      billing,
    )
    expect([bad.status, bad.body.error.details[0]?.path]).toEqual([400, 'period'])
    expect((await api(t, 'GET', '/v1/invoices/00000000-0000-4000-8000-000000000000')).status).toBe(404)
    expect((await api(t, 'GET', '/v1/invoices/00000000-0000-4000-8000-000000000000.csv')).status).toBe(404)
  })
})
