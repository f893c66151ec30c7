import type { Sql, Tx } from '../db/client.js'
import type { Logger } from '../log.js'
import { addMonthsToPeriod, monthOf, monthRange } from './calendar.js'
import { refreshTotals } from './invoices.js'
import { type ExpectedLine, expectedLines, lookbackStart } from './ledger.js'
import { getSettings, loadPriceLookup, type PriceListCache } from './price-book.js'

export type TenantResult = {
  tenant_id: string
  invoice_id: string
  period: string
  currency: string
  lines_added: number
  lines_removed: number
  lines_unchanged: number
  subtotal_minor: string
  total_minor: string
  unpriced: { subscription_id: string; sku: string }[]
}

export type RunReport = {
  period: string
  dry_run: boolean
  resellers: number
  lines_added: number
  lines_removed: number
  errors: { code: 'unpriced'; tenant_id: string; subscription_id: string; sku: string }[]
  invoices: TenantResult[]
}

type LineRow = {
  line_key: string
  subscription_id: string
  account_id: string
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
  adjustment: boolean
  unpriced: boolean
}

const signature = (l: LineRow) =>
  [
    l.charge_type,
    l.event_date,
    l.charge_start,
    l.charge_end,
    l.sku,
    l.unit_price,
    l.effective_unit_price,
    l.quantity,
    l.amount_minor,
    l.adjustment,
    l.unpriced,
    l.account_id,
  ].join('|')

function toRow(e: ExpectedLine, amountMinor: bigint, adjustment: boolean): LineRow {
  return {
    line_key: e.key,
    subscription_id: e.subscriptionId,
    account_id: e.accountId,
    charge_type: e.chargeType,
    reference_id: e.referenceId,
    event_date: e.eventDate,
    charge_start: e.chargeStart,
    charge_end: e.chargeEnd,
    sku: e.sku,
    product_name: e.productName,
    unit_price: e.unitPrice?.toFixed(6) ?? null,
    effective_unit_price: e.effectiveUnitPrice?.toDecimalPlaces(12).toFixed(12) ?? null,
    quantity: e.quantity,
    amount_minor: amountMinor.toString(),
    adjustment,
    unpriced: e.unpriced,
  }
}

class DryRun extends Error {
  constructor(readonly result: TenantResult) {
    super('dry run: rolled back')
  }
}

/**
 * Brings one reseller's draft for `period` up to date (BILLING.md rules 8 and 9), in one
 * transaction under a per-reseller lock so runs never race. The draft holds, per charge key, what
 * was expected minus what finalized invoices already billed: a regular line for the month's own
 * charges, an adjustment line for a difference found in a finalized month. A dry run takes the
 * same path and rolls back.
 */
export async function runForTenant(
  sql: Sql,
  input: {
    tenantId: string
    period: string
    runId: string | null
    dryRun: boolean
    listCache?: PriceListCache
  },
): Promise<TenantResult> {
  try {
    return await sql.begin(async (tx) => {
      const result = await refreshDraft(tx, input)
      if (input.dryRun) throw new DryRun(result)
      return result
    })
  } catch (err) {
    if (err instanceof DryRun) return err.result
    throw err
  }
}

async function refreshDraft(
  tx: Tx,
  input: { tenantId: string; period: string; runId: string | null; listCache?: PriceListCache },
): Promise<TenantResult> {
  const { tenantId } = input
  await tx`select pg_advisory_xact_lock(hashtextextended(${`billing:${tenantId}`}, 0))`
  const [tenant]: [{ currency: string; discount: string; tax_rate: string }?] = await tx`
    select coalesce(a.currency, 'EUR') as currency, coalesce(t.discount, 0)::text as discount, a.tax_rate::text
    from accounts a left join reseller_tiers t on t.name = a.tier
    where a.id = ${tenantId} and a.type = 'tenant_reseller'`
  if (!tenant) throw new Error(`no tenant reseller ${tenantId}`)
  const settings = await getSettings(tx)
  const invoices = await tx<{ period: string; status: string }[]>`
    select period, status from invoices where tenant_id = ${tenantId} and status <> 'void'`
  const finalized = new Set(invoices.filter((i) => i.status === 'finalized').map((i) => i.period))
  // A finalized month is never touched: its differences go to the next month still open.
  let target = input.period
  while (finalized.has(target)) target = addMonthsToPeriod(target, 1)
  const from = lookbackStart(target, settings.lookback_months)
  const months = new Set([target, ...[...finalized].filter((p) => p >= from && p < target)])
  const window = { from: monthRange([...months].sort()[0] ?? target).from, to: monthRange(target).to }

  const price = await loadPriceLookup(tx, { id: tenantId, ...tenant }, input.listCache ?? new Map())
  const expected = await expectedLines(tx, tenantId, months, window, price, tenant.currency, {
    stage: settings.rounding_stage,
    mode: settings.rounding_mode,
  })

  const billedRows = await tx<{ line_key: string; amount: string }[]>`
    select l.line_key, sum(l.amount_minor)::text as amount
    from invoice_lines l join invoices i on i.id = l.invoice_id
    where i.tenant_id = ${tenantId} and i.status = 'finalized' and not l.void
      and to_char(l.event_date, 'YYYY-MM') = any(${[...months]})
    group by l.line_key`
  const billed = new Map(billedRows.map((r) => [r.line_key, BigInt(r.amount)]))

  const desired = new Map<string, LineRow>()
  const byKey = new Map(expected.map((e) => [e.key, e]))
  for (const e of expected) {
    const already = billed.get(e.key)
    if (already === undefined && monthOf(e.eventDate) === target) {
      desired.set(e.key, toRow(e, e.amountMinor, false))
    } else if (e.amountMinor !== (already ?? 0n)) {
      desired.set(e.key, toRow(e, e.amountMinor - (already ?? 0n), true))
    }
  }
  // Billed charges no longer expected (an event that changed the past): take them back.
  const gone = [...billed].filter(([key, amount]) => !byKey.has(key) && amount !== 0n).map(([key]) => key)
  if (gone.length > 0) {
    const last = await tx<LineRow[]>`
      select distinct on (l.line_key) l.line_key, l.subscription_id, l.account_id, l.charge_type, l.reference_id,
        l.event_date::text, l.charge_start::text, l.charge_end::text, l.sku, l.product_name, l.unit_price::text,
        l.effective_unit_price::text, l.quantity, l.amount_minor::text, l.adjustment, l.unpriced
      from invoice_lines l join invoices i on i.id = l.invoice_id
      where i.tenant_id = ${tenantId} and i.status = 'finalized' and l.line_key = any(${gone})
      order by l.line_key, l.id desc`
    for (const l of last) {
      const amount = -(billed.get(l.line_key) ?? 0n)
      desired.set(l.line_key, {
        ...l,
        quantity: -l.quantity,
        amount_minor: amount.toString(),
        adjustment: true,
      })
    }
  }

  const invoiceId = await draftFor(tx, tenantId, target, tenant.currency, tenant.tax_rate)
  const current = await tx<(LineRow & { id: string })[]>`
    select id, line_key, subscription_id, account_id, charge_type, reference_id, event_date::text,
      charge_start::text, charge_end::text, sku, product_name, unit_price::text, effective_unit_price::text,
      quantity, amount_minor::text, adjustment, unpriced
    from invoice_lines where invoice_id = ${invoiceId}`
  const stale = current.filter((c) => {
    const d = desired.get(c.line_key)
    return !d || signature(d) !== signature(c)
  })
  const have = new Map(current.map((c) => [c.line_key, c]))
  const toInsert = [...desired.values()].filter((d) => {
    const c = have.get(d.line_key)
    return !c || signature(c) !== signature(d)
  })
  if (stale.length > 0)
    await tx`delete from invoice_lines where id = any(${stale.map((s) => s.id)}::bigint[])`
  if (toInsert.length > 0) await insertLines(tx, invoiceId, tenant.currency, toInsert)
  const totals = await refreshTotals(tx, invoiceId, input.runId)

  const unpriced = [...desired.values()].filter((d) => d.unpriced)
  return {
    tenant_id: tenantId,
    invoice_id: invoiceId,
    period: target,
    currency: tenant.currency,
    lines_added: toInsert.length,
    lines_removed: stale.length,
    lines_unchanged: current.length - stale.length,
    subtotal_minor: totals.subtotal_minor,
    total_minor: totals.total_minor,
    unpriced: unpriced.map((u) => ({ subscription_id: u.subscription_id, sku: u.sku })),
  }
}

async function draftFor(
  tx: Tx,
  tenantId: string,
  period: string,
  currency: string,
  taxRate: string,
): Promise<string> {
  const [created]: [{ id: string }?] = await tx`
    insert into invoices (tenant_id, period, currency, tax_rate) values (${tenantId}, ${period}, ${currency}, ${taxRate})
    on conflict (tenant_id, period) where status = 'draft' do nothing
    returning id`
  if (created) return created.id
  const [draft]: [{ id: string }?] = await tx`
    select id from invoices where tenant_id = ${tenantId} and period = ${period} and status = 'draft'`
  if (!draft) throw new Error('draft invoice vanished')
  return draft.id
}

async function insertLines(tx: Tx, invoiceId: string, currency: string, rows: LineRow[]): Promise<void> {
  // Every column travels as a text array and is cast in SQL: one statement for the whole batch.
  const col = (k: keyof LineRow) =>
    tx.array(rows.map((r) => (r[k] === null ? null : String(r[k]))) as string[])
  await tx`
    insert into invoice_lines (invoice_id, currency, line_key, subscription_id, account_id, charge_type, reference_id,
      event_date, charge_start, charge_end, sku, product_name, unit_price, effective_unit_price, quantity,
      amount_minor, adjustment, unpriced)
    select ${invoiceId}, ${currency}, * from unnest(
      ${col('line_key')}::text[], ${col('subscription_id')}::uuid[], ${col('account_id')}::uuid[],
      ${col('charge_type')}::text[], ${col('reference_id')}::text[], ${col('event_date')}::date[],
      ${col('charge_start')}::date[], ${col('charge_end')}::date[], ${col('sku')}::text[],
      ${col('product_name')}::text[], ${col('unit_price')}::numeric[], ${col('effective_unit_price')}::numeric[],
      ${col('quantity')}::int[], ${col('amount_minor')}::bigint[], ${col('adjustment')}::boolean[],
      ${col('unpriced')}::boolean[])`
}

export type RunDeps = { sql: Sql; log: Logger }

const RUN_LANES = 3

/** A run over one reseller (its source) or every reseller with subscriptions; records its report. */
export async function executeRun(deps: RunDeps, runId: string): Promise<RunReport> {
  const { sql } = deps
  const [run]: [{ period: string; source_id: string | null; dry_run: boolean }?] = await sql`
    update invoice_runs set status = 'running', started_at = now() where id = ${runId}
    returning period, source_id, dry_run`
  if (!run) throw new Error(`no invoice run ${runId}`)
  try {
    const tenants = run.source_id
      ? await sql<{ id: string }[]>`select account_id as id from sources where id = ${run.source_id}`
      : await sql<{ id: string }[]>`
          select id from accounts a where type = 'tenant_reseller'
            and (exists (select 1 from subscriptions s where s.tenant_id = a.id)
                 or exists (select 1 from invoices i where i.tenant_id = a.id and i.status = 'draft'))
          order by id`
    const listCache: PriceListCache = new Map()
    const invoices: TenantResult[] = []
    // Resellers are independent (each locked on its own): a few at a time keep Postgres and
    // this process busy together.
    let next = 0
    const lane = async () => {
      while (next < tenants.length) {
        const t = tenants[next++] as { id: string }
        const runFor = {
          tenantId: t.id,
          period: run.period,
          runId: run.dry_run ? null : runId,
          dryRun: run.dry_run,
        }
        invoices.push(await runForTenant(sql, { ...runFor, listCache }))
      }
    }
    await Promise.all(Array.from({ length: Math.min(RUN_LANES, tenants.length) }, lane))
    invoices.sort((a, b) => a.tenant_id.localeCompare(b.tenant_id))
    const report: RunReport = {
      period: run.period,
      dry_run: run.dry_run,
      resellers: invoices.length,
      lines_added: invoices.reduce((n, i) => n + i.lines_added, 0),
      lines_removed: invoices.reduce((n, i) => n + i.lines_removed, 0),
      errors: invoices.flatMap((i) =>
        i.unpriced.map((u) => ({ code: 'unpriced' as const, tenant_id: i.tenant_id, ...u })),
      ),
      invoices: invoices.slice(0, 1000),
    }
    await sql`
      update invoice_runs set status = 'succeeded', finished_at = now(), report = ${sql.json(report as never)}
      where id = ${runId}`
    return report
  } catch (err) {
    await sql`update invoice_runs set status = 'failed', finished_at = now(), error = ${(err as Error).message} where id = ${runId}`
    throw err
  }
}

export async function createRun(
  sql: Sql,
  input: { period: string; source_id?: string | undefined; dry_run?: boolean | undefined },
) {
  const [row]: [{ id: string }?] = await sql`
    insert into invoice_runs (period, source_id, dry_run)
    values (${input.period}, ${input.source_id ?? null}, ${input.dry_run ?? false})
    returning id`
  return (row as { id: string }).id
}
