import { jsonParam, type Sql, type Tx } from '../db/client.js'
import type { Logger } from '../log.js'
import { addMonthsToPeriod, monthOf, monthRange } from './calendar.js'
import type { PriceLookup } from './charges.js'
import { type DraftSubtotal, type InvoiceLine, writeTotals } from './invoices.js'
import { type ExpectedLine, expectedLines, lookbackStart, type TenantPlan } from './ledger.js'
import type { D } from './money.js'
import {
  type BillingSettings,
  getSettings,
  listPricesFor,
  overridesFor,
  type PriceListCache,
  priceLookup,
} from './price-book.js'
import { createPricer, type Pricer } from './pricing.js'

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

/** A line as a run writes it: the stored columns, without what joins add for display. */
type LineRow = Omit<
  InvoiceLine,
  | 'id'
  | 'currency'
  | 'subscription_external_id'
  | 'customer_external_id'
  | 'customer_name'
  | 'reseller_id'
  | 'reseller_name'
>

/** A line's stored values in column order: what the insert sends and what a refresh compares. */
const lineValues = (l: LineRow) => [
  l.line_key,
  l.subscription_id,
  l.account_id,
  l.charge_type,
  l.reference_id,
  l.event_date,
  l.charge_start,
  l.charge_end,
  l.sku,
  l.product_name,
  l.unit_price,
  l.effective_unit_price,
  l.quantity,
  l.amount_minor,
  l.adjustment,
  l.unpriced,
]

const signature = (l: LineRow) => lineValues(l).join('|')

// Price decimals are shared objects (one per price row), so their text is worth keeping.
const decimalText = new WeakMap<object, string>()
function fixed(d: D | undefined, places: number): string | null {
  if (d === undefined) return null
  let text = decimalText.get(d)
  if (text === undefined) {
    text = d.toDecimalPlaces(places).toFixed(places)
    decimalText.set(d, text)
  }
  return text
}

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
    unit_price: e.unitPrice === undefined ? null : e.unitPrice.toFixed(6),
    effective_unit_price: fixed(e.effectiveUnitPrice, 12),
    quantity: e.quantity,
    amount_minor: amountMinor.toString(),
    adjustment,
    unpriced: e.unpriced,
  }
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>()
  for (const r of rows) {
    const k = key(r)
    const list = m.get(k)
    if (list) list.push(r)
    else m.set(k, [r])
  }
  return m
}

class DryRun extends Error {
  constructor(readonly results: TenantResult[]) {
    super('dry run: rolled back')
  }
}

export type ChunkInput = {
  tenantIds: string[]
  period: string
  runId: string | null
  dryRun: boolean
  settings?: BillingSettings
  listCache?: PriceListCache
}

/**
 * Brings the drafts of a chunk of resellers up to date (BILLING.md rules 8 and 9) in one
 * transaction, set-based: a fixed number of statements for the whole chunk, under one lock per
 * reseller so runs never race. Per charge key, a draft holds what was expected minus what
 * finalized invoices already billed: a regular line for the month's own charges, an adjustment
 * line for a difference found in a finalized month. A dry run takes the same path and rolls back.
 */
export async function runChunk(sql: Sql, input: ChunkInput): Promise<TenantResult[]> {
  try {
    return await sql.begin(async (tx) => {
      const results = await refreshDrafts(tx, input)
      if (input.dryRun) throw new DryRun(results)
      return results
    })
  } catch (err) {
    if (err instanceof DryRun) return err.results
    throw err
  }
}

/** One reseller (tests, single-source runs). */
export async function runForTenant(
  sql: Sql,
  input: { tenantId: string; period: string; runId: string | null; dryRun: boolean },
): Promise<TenantResult> {
  const [result] = await runChunk(sql, { ...input, tenantIds: [input.tenantId] })
  if (!result) throw new Error(`no tenant reseller ${input.tenantId}`)
  return result
}

type TenantRow = { id: string; currency: string; discount: string; tax_rate: string }
type Plan = TenantPlan & { target: string; taxRate: string }

async function refreshDrafts(tx: Tx, input: ChunkInput): Promise<TenantResult[]> {
  const ids = [...new Set(input.tenantIds)].sort()
  await tx`
    select pg_advisory_xact_lock(hashtextextended('billing:' || t, 0))
    from unnest(${ids}::text[]) with ordinality as x(t, n) order by n`
  const settings = input.settings ?? (await getSettings(tx))
  const rounding = { stage: settings.rounding_stage, mode: settings.rounding_mode }
  const tenants = await tx<TenantRow[]>`
    select a.id, coalesce(a.currency, 'EUR') as currency, coalesce(t.discount, 0)::text as discount, a.tax_rate::text
    from accounts a left join reseller_tiers t on t.name = a.tier
    where a.id = any(${ids}::uuid[]) and a.type = 'tenant_reseller'`
  const finalizedRows = await tx<{ id: string; tenant_id: string; period: string }[]>`
    select id, tenant_id, period from invoices where tenant_id = any(${ids}::uuid[]) and status = 'finalized'`
  const overrides = await overridesFor(tx, ids)
  const cache = input.listCache ?? new Map()

  const finalizedOf = groupBy(finalizedRows, (r) => r.tenant_id)
  const overridesOf = groupBy(overrides, (o) => o.tenant_id)
  const plans = new Map<string, Plan>()
  const pricers = new Map<string, Pricer>()
  const lookups = new Map<string, PriceLookup>()
  for (const t of tenants) {
    const finalized = new Set((finalizedOf.get(t.id) ?? []).map((r) => r.period))
    // A finalized month is never touched: its differences go to the next month still open.
    let target = input.period
    while (finalized.has(target)) target = addMonthsToPeriod(target, 1)
    const from = lookbackStart(target, settings.lookback_months)
    const months = new Set([target, ...[...finalized].filter((p) => p >= from && p < target)])
    const window = { from: monthRange([...months].sort()[0] ?? target).from, to: monthRange(target).to }
    const own = (overridesOf.get(t.id) ?? []).filter((o) => o.currency === t.currency)
    // Resellers without overrides share a lookup per currency and discount (most of them).
    const shared = own.length === 0 ? `${t.currency}|${t.discount}` : undefined
    let price = shared ? lookups.get(shared) : undefined
    if (!price) {
      price = priceLookup(await listPricesFor(tx, t.currency, cache), own, t.discount)
      if (shared) lookups.set(shared, price)
    }
    const pricer = pricers.get(t.currency) ?? createPricer(t.currency, rounding)
    pricers.set(t.currency, pricer)
    plans.set(t.id, {
      tenantId: t.id,
      months,
      window,
      price,
      pricer,
      currency: t.currency,
      target,
      taxRate: t.tax_rate,
    })
  }
  const expected = await expectedLines(tx, plans)

  // Driven from the (few) finalized invoices of the lookback, so it reads only their lines.
  const lookback = lookbackStart(input.period, settings.lookback_months)
  const finalizedIds = finalizedRows.filter((r) => r.period >= lookback).map((r) => r.id)
  const billedRows =
    finalizedIds.length === 0
      ? []
      : await tx<{ tenant_id: string; line_key: string; month: string; amount: string }[]>`
          select i.tenant_id, l.line_key, min(to_char(l.event_date, 'YYYY-MM')) as month, sum(l.amount_minor)::text as amount
          from invoice_lines l join invoices i on i.id = l.invoice_id
          where l.invoice_id = any(${finalizedIds}::uuid[]) and not l.void
          group by i.tenant_id, l.line_key`

  // Desired draft lines per reseller.
  const desired = new Map<string, Map<string, LineRow>>()
  const gone: { tenantId: string; key: string; amount: bigint }[] = []
  const billedOf = groupBy(billedRows, (b) => b.tenant_id)
  for (const plan of plans.values()) {
    const billed = new Map(
      (billedOf.get(plan.tenantId) ?? [])
        .filter((b) => plan.months.has(b.month))
        .map((b) => [b.line_key, BigInt(b.amount)]),
    )
    const want = new Map<string, LineRow>()
    const lines = expected.get(plan.tenantId) ?? []
    for (const e of lines) {
      const already = billed.get(e.key)
      if (already === undefined && monthOf(e.eventDate) === plan.target) {
        want.set(e.key, toRow(e, e.amountMinor, false))
      } else if (e.amountMinor !== (already ?? 0n)) {
        want.set(e.key, toRow(e, e.amountMinor - (already ?? 0n), true))
      }
    }
    const keys = new Set(lines.map((e) => e.key))
    for (const [key, amount] of billed)
      if (!keys.has(key) && amount !== 0n) gone.push({ tenantId: plan.tenantId, key, amount })
    desired.set(plan.tenantId, want)
  }
  // Billed charges no longer expected (an event that changed the past): take them back.
  if (gone.length > 0) {
    const last = await tx<(LineRow & { tenant_id: string })[]>`
      select distinct on (i.tenant_id, l.line_key) i.tenant_id, l.line_key, l.subscription_id, l.account_id,
        l.charge_type, l.reference_id, l.event_date::text, l.charge_start::text, l.charge_end::text, l.sku,
        l.product_name, l.unit_price::text, l.effective_unit_price::text, l.quantity, l.amount_minor::text,
        l.adjustment, l.unpriced
      from invoice_lines l join invoices i on i.id = l.invoice_id
      where l.invoice_id = any(${finalizedIds}::uuid[]) and l.line_key = any(${gone.map((g) => g.key)}::uuid[])
      order by i.tenant_id, l.line_key, l.id desc`
    for (const { tenant_id, ...l } of last) {
      const g = gone.find((x) => x.tenantId === tenant_id && x.key === l.line_key)
      if (!g) continue
      desired.get(tenant_id)?.set(l.line_key, {
        ...l,
        quantity: -l.quantity,
        amount_minor: (-g.amount).toString(),
        adjustment: true,
      })
    }
  }

  // Drafts: one insert for the chunk, then their ids. A draft created here has no lines to read.
  const planList = [...plans.values()]
  const created = await tx<{ id: string }[]>`
    insert into invoices (tenant_id, period, currency, tax_rate)
    select * from unnest(${planList.map((p) => p.tenantId)}::uuid[], ${planList.map((p) => p.target)}::text[],
      ${planList.map((p) => p.currency)}::text[], ${planList.map((p) => p.taxRate)}::numeric[])
    on conflict (tenant_id, period) where status = 'draft' do nothing
    returning id`
  const drafts = await tx<{ id: string; tenant_id: string; currency: string; tax_rate: string }[]>`
    select i.id, i.tenant_id, i.currency, i.tax_rate::text from invoices i
    join unnest(${planList.map((p) => p.tenantId)}::uuid[], ${planList.map((p) => p.target)}::text[]) as x(tenant_id, period)
      on i.tenant_id = x.tenant_id and i.period = x.period
    where i.status = 'draft'`
  const draftOf = new Map(drafts.map((d) => [d.tenant_id, d]))
  const fresh = new Set(created.map((c) => c.id))
  const existing = drafts.filter((d) => !fresh.has(d.id)).map((d) => d.id)
  const current =
    existing.length === 0
      ? []
      : await tx<(LineRow & { id: string; invoice_id: string })[]>`
          select id, invoice_id, line_key, subscription_id, account_id, charge_type, reference_id, event_date::text,
            charge_start::text, charge_end::text, sku, product_name, unit_price::text, effective_unit_price::text,
            quantity, amount_minor::text, adjustment, unpriced
          from invoice_lines where invoice_id = any(${existing}::uuid[])`

  const currentOf = groupBy(current, (c) => c.invoice_id)
  const stale: string[] = []
  const inserts: { invoiceId: string; currency: string; line: LineRow }[] = []
  const counts = new Map<string, { added: number; removed: number; unchanged: number }>()
  const subtotals: DraftSubtotal[] = []
  for (const plan of planList) {
    const draft = draftOf.get(plan.tenantId) as (typeof drafts)[number]
    const want = desired.get(plan.tenantId) ?? new Map()
    const have = currentOf.get(draft.id) ?? []
    const haveByKey = new Map(have.map((c) => [c.line_key, c]))
    // After the refresh the draft holds exactly the wanted lines: its subtotal is theirs.
    let subtotal = 0n
    let removed = 0
    for (const c of have) {
      const d = want.get(c.line_key)
      if (!d || signature(d) !== signature(c)) {
        stale.push(c.id)
        removed++
      }
    }
    let added = 0
    for (const d of want.values()) {
      subtotal += BigInt(d.amount_minor)
      const c = haveByKey.get(d.line_key)
      if (!c || signature(c) !== signature(d)) {
        inserts.push({ invoiceId: draft.id, currency: plan.currency, line: d })
        added++
      }
    }
    counts.set(plan.tenantId, { added, removed, unchanged: have.length - removed })
    subtotals.push({ id: draft.id, currency: draft.currency, tax_rate: draft.tax_rate, subtotal })
  }
  if (stale.length > 0) await tx`delete from invoice_lines where id = any(${stale}::bigint[])`
  if (inserts.length > 0) await insertLines(tx, inserts)
  const totals = await writeTotals(tx, subtotals, input.runId, settings.rounding_mode)

  return planList.map((plan) => {
    const invoiceId = (draftOf.get(plan.tenantId) as (typeof drafts)[number]).id
    const c = counts.get(plan.tenantId) ?? { added: 0, removed: 0, unchanged: 0 }
    const t = totals.get(invoiceId) ?? { subtotal_minor: '0', total_minor: '0' }
    const unpriced = [...(desired.get(plan.tenantId)?.values() ?? [])].filter((d) => d.unpriced)
    return {
      tenant_id: plan.tenantId,
      invoice_id: invoiceId,
      period: plan.target,
      currency: plan.currency,
      lines_added: c.added,
      lines_removed: c.removed,
      lines_unchanged: c.unchanged,
      subtotal_minor: t.subtotal_minor,
      total_minor: t.total_minor,
      unpriced: unpriced.map((u) => ({ subscription_id: u.subscription_id, sku: u.sku })),
    }
  })
}

async function insertLines(
  tx: Tx,
  rows: { invoiceId: string; currency: string; line: LineRow }[],
): Promise<void> {
  // The whole chunk as one jsonb parameter of positional arrays: serialized natively here,
  // parsed in C by Postgres, no per-row object keys either way.
  const tuples = rows.map(({ invoiceId, currency, line }) => [invoiceId, currency, ...lineValues(line)])
  await tx`
    insert into invoice_lines (invoice_id, currency, line_key, subscription_id, account_id, charge_type, reference_id,
      event_date, charge_start, charge_end, sku, product_name, unit_price, effective_unit_price, quantity,
      amount_minor, adjustment, unpriced)
    select (e->>0)::uuid, e->>1, (e->>2)::uuid, (e->>3)::uuid, (e->>4)::uuid, e->>5, e->>6, (e->>7)::date,
      (e->>8)::date, (e->>9)::date, e->>10, e->>11, (e->>12)::numeric, (e->>13)::numeric, (e->>14)::int,
      (e->>15)::bigint, (e->>16)::boolean, (e->>17)::boolean
    from jsonb_array_elements(${jsonParam(tx, tuples)}) as e`
}

/** `lanes`: chunks refreshed at once (default 2: Postgres and this process busy together). */
export type RunDeps = { sql: Sql; log: Logger; lanes?: number }

const CHUNK = 50

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
    const settings = await getSettings(sql)
    const invoices: TenantResult[] = []
    const chunks: string[][] = []
    for (let i = 0; i < tenants.length; i += CHUNK) chunks.push(tenants.slice(i, i + CHUNK).map((t) => t.id))
    // Chunks are independent (each reseller locked on its own): two at a time keep Postgres and
    // this process busy together.
    let next = 0
    const lane = async () => {
      while (next < chunks.length) {
        const tenantIds = chunks[next++] as string[]
        const runFor = {
          tenantIds,
          period: run.period,
          runId: run.dry_run ? null : runId,
          dryRun: run.dry_run,
        }
        invoices.push(...(await runChunk(sql, { ...runFor, settings, listCache })))
      }
    }
    await Promise.all(Array.from({ length: Math.min(deps.lanes ?? 2, chunks.length) }, lane))
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
