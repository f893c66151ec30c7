import { z } from 'zod'
import type { Sql, Tx } from '../db/client.js'
import type { IsoDate } from './calendar.js'
import type { BillingCycle, PriceLookup, SubState } from './charges.js'
import { D, type RoundingMode, type RoundingStage } from './money.js'

const Decimalish = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(
    z.string().regex(/^\d{1,14}(\.\d{1,6})?$/, 'a non-negative decimal with up to 6 places, e.g. "12.00"'),
  )
const Fraction = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().regex(/^(0(\.\d{1,6})?|1(\.0{1,6})?)$/, 'a fraction from 0 to 1, e.g. "0.05"'))
// A rate of 100 % or more is not a tax rate (the column holds [0, 1)).
const TaxRate = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().regex(/^0(\.\d{1,6})?$/, 'a tax rate from 0 to below 1, e.g. "0.24"'))
const Cycle = z.enum(['monthly', 'annual', 'triennial', 'one_time'])
const Term = z.enum(['P1M', 'P1Y', 'P3Y']).nullable().default(null)
const Currency = z.string().regex(/^[A-Z]{3}$/)

export const NewPrice = z.object({
  sku: z.string().trim().min(1).max(200),
  billing_cycle: Cycle,
  term: Term,
  currency: Currency,
  unit_price: Decimalish,
  effective_from: z.iso.date().refine((d) => d >= '0001-01-01', 'a date from year 1'),
})
export type NewPrice = z.infer<typeof NewPrice>
export const NewOverride = NewPrice.extend({ tenant_id: z.uuid() })
export type NewOverride = z.infer<typeof NewOverride>
export const TierInput = z.object({ name: z.string().regex(/^[a-z0-9_-]{1,50}$/), discount: Fraction })
export const SettingsInput = z.object({
  rounding_stage: z.enum(['line', 'unit']).optional(),
  rounding_mode: z.enum(['half_up', 'half_even', 'down']).optional(),
  lookback_months: z.number().int().min(0).max(120).optional(),
})
export const ResellerBilling = z.object({
  tier: z.string().min(1).max(50).optional(),
  tax_rate: TaxRate.optional(),
})

export type BillingSettings = {
  rounding_stage: RoundingStage
  rounding_mode: RoundingMode
  lookback_months: number
}

export async function getSettings(sql: Sql | Tx): Promise<BillingSettings> {
  const [row]: [BillingSettings?] =
    await sql`select rounding_stage, rounding_mode, lookback_months from billing_settings`
  if (!row) throw new Error('billing_settings row missing')
  return row
}

export async function updateSettings(
  sql: Sql,
  input: z.infer<typeof SettingsInput>,
): Promise<BillingSettings> {
  await sql`
    update billing_settings set
      rounding_stage = coalesce(${input.rounding_stage ?? null}, rounding_stage),
      rounding_mode = coalesce(${input.rounding_mode ?? null}, rounding_mode),
      lookback_months = coalesce(${input.lookback_months ?? null}::int, lookback_months),
      updated_at = now()`
  return getSettings(sql)
}

export type PriceView = {
  id: string
  sku: string
  billing_cycle: string
  term: string | null
  currency: string
  unit_price: string
  effective_from: string
  tenant_id?: string
}
export type TierView = { name: string; discount: string }
export type ResellerBillingView = {
  id: string
  name: string
  tier: string | null
  tax_rate: string
  currency: string | null
}

export async function addPrice(sql: Sql, p: NewPrice): Promise<PriceView> {
  const [row] = await sql<PriceView[]>`
    insert into prices (sku, billing_cycle, term, currency, unit_price, effective_from)
    values (${p.sku}, ${p.billing_cycle}, ${p.term}, ${p.currency}, ${p.unit_price}, ${p.effective_from})
    on conflict (sku, billing_cycle, term, currency, effective_from) do update set unit_price = excluded.unit_price
    returning id, sku, billing_cycle, term, currency, unit_price::text, effective_from::text`
  return row as PriceView
}

export async function listPrices(sql: Sql, sku?: string): Promise<PriceView[]> {
  return sql<PriceView[]>`
    select id, sku, billing_cycle, term, currency, unit_price::text, effective_from::text from prices
    ${sku ? sql`where sku = ${sku}` : sql``}
    order by sku, billing_cycle, term nulls first, currency, effective_from`
}

export async function addOverride(sql: Sql, p: NewOverride): Promise<PriceView> {
  const [row] = await sql<PriceView[]>`
    insert into price_overrides (tenant_id, sku, billing_cycle, term, currency, unit_price, effective_from)
    values (${p.tenant_id}, ${p.sku}, ${p.billing_cycle}, ${p.term}, ${p.currency}, ${p.unit_price}, ${p.effective_from})
    on conflict (tenant_id, sku, billing_cycle, term, currency, effective_from) do update set unit_price = excluded.unit_price
    returning id, tenant_id, sku, billing_cycle, term, currency, unit_price::text, effective_from::text`
  return row as PriceView
}

export async function listOverrides(sql: Sql, tenantId?: string): Promise<PriceView[]> {
  return sql<PriceView[]>`
    select id, tenant_id, sku, billing_cycle, term, currency, unit_price::text, effective_from::text from price_overrides
    ${tenantId ? sql`where tenant_id = ${tenantId}` : sql``}
    order by tenant_id, sku, billing_cycle, effective_from`
}

export async function upsertTier(sql: Sql, t: z.infer<typeof TierInput>): Promise<TierView> {
  const [row] = await sql<TierView[]>`
    insert into reseller_tiers (name, discount) values (${t.name}, ${t.discount})
    on conflict (name) do update set discount = excluded.discount, updated_at = now()
    returning name, discount::text`
  return row as TierView
}

export async function listTiers(sql: Sql): Promise<TierView[]> {
  return sql<TierView[]>`select name, discount::text from reseller_tiers order by name`
}

/** Sets a tenant reseller's tier and tax rate (distributor-owned fields of that account). */
export async function setResellerBilling(
  sql: Sql,
  tenantId: string,
  input: z.infer<typeof ResellerBilling>,
): Promise<ResellerBillingView | undefined> {
  const [row]: [ResellerBillingView?] = await sql`
    update accounts set tier = coalesce(${input.tier ?? null}, tier), tax_rate = coalesce(${input.tax_rate ?? null}::numeric, tax_rate),
      updated_at = now()
    where id = ${tenantId} and type = 'tenant_reseller'
    returning id, name, tier, tax_rate::text, currency`
  return row
}

export type PriceRow = {
  sku: string
  billing_cycle: BillingCycle
  term: SubState['term']
  unit_price: string
  effective_from: IsoDate
}
export type OverrideRow = PriceRow & { tenant_id: string; currency: string }
export type PriceListCache = Map<string, PriceRow[]>

/** List prices of a currency, newest first (cached for the length of a run). */
export async function listPricesFor(
  sql: Sql | Tx,
  currency: string,
  cache: PriceListCache,
): Promise<PriceRow[]> {
  let rows = cache.get(currency)
  if (!rows) {
    rows = await sql<PriceRow[]>`
      select sku, billing_cycle, term, unit_price::text, effective_from::text from prices
      where currency = ${currency} order by effective_from desc`
    cache.set(currency, rows)
  }
  return rows
}

/** Overrides of many resellers in one query, newest first. */
export function overridesFor(sql: Sql | Tx, tenantIds: string[]): Promise<OverrideRow[]> {
  return sql<OverrideRow[]>`
    select tenant_id, currency, sku, billing_cycle, term, unit_price::text, effective_from::text from price_overrides
    where tenant_id = any(${tenantIds}::uuid[]) order by effective_from desc`
}

/**
 * One reseller's price lookup: its overrides, else list prices less its tier's discount. The price
 * in force at a cycle's start is the one with the latest effective_from on or before it; a price
 * for the exact term wins over a term-less one. Decimals are built once per row, not per line.
 */
export function priceLookup(list: PriceRow[], overrides: PriceRow[], discount: string): PriceLookup {
  const factor = new D(1).minus(discount)
  type Entry = PriceRow & { value: D }
  // sku -> billing cycle -> rows, newest first: no string building per lookup.
  const index = (rows: PriceRow[], scale: D | undefined) => {
    const bySku = new Map<string, Map<string, Entry[]>>()
    for (const r of rows) {
      let byCycle = bySku.get(r.sku)
      if (!byCycle) {
        byCycle = new Map()
        bySku.set(r.sku, byCycle)
      }
      const entries = byCycle.get(r.billing_cycle) ?? []
      entries.push({ ...r, value: scale ? new D(r.unit_price).times(scale) : new D(r.unit_price) })
      byCycle.set(r.billing_cycle, entries)
    }
    return bySku
  }
  const byList = index(list, factor)
  const byOverride = index(overrides, undefined)
  const pick = (rows: Entry[] | undefined, term: SubState['term'], on: IsoDate) =>
    rows?.find((r) => r.term === term && r.effective_from <= on) ??
    rows?.find((r) => r.term === null && r.effective_from <= on)
  return ({ sku, billingCycle, term, on }) =>
    (
      pick(byOverride.get(sku)?.get(billingCycle), term, on) ??
      pick(byList.get(sku)?.get(billingCycle), term, on)
    )?.value
}
