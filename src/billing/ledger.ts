import type { Tx } from '../db/client.js'
import { addMonthsToPeriod, type IsoDate, monthOf } from './calendar.js'
import { type BillingCycle, chargesOf, type PriceLookup, type SubState, type SubVersion } from './charges.js'
import type { PricedCharge, Pricer } from './pricing.js'

export type ExpectedLine = PricedCharge & { subscriptionId: string; accountId: string }

/** The fields of a version's state that billing reads, extracted in SQL (no JSON parsing here). */
type VersionRow = {
  tenant_id: string
  subscription_id: string
  account_id: string
  version_id: string
  effective_date: IsoDate
  quantity: number
  sku: string
  product_name: string | null
  billing_cycle: BillingCycle
  term: SubState['term']
  start_date: IsoDate | null
  end_date: IsoDate | null
  status: string
}

function toVersion(r: VersionRow): SubVersion {
  return {
    versionId: r.version_id,
    effectiveDate: r.effective_date,
    state: {
      quantity: r.quantity,
      sku: r.sku,
      product_name: r.product_name,
      billing_cycle: r.billing_cycle,
      term: r.term,
      start_date: r.start_date,
      end_date: r.end_date,
      status: r.status,
    },
  }
}

/** What one reseller's run needs to know to compute its expected lines. */
export type TenantPlan = {
  tenantId: string
  months: ReadonlySet<string>
  window: { from: IsoDate; to: IsoDate }
  price: PriceLookup
  currency: string
  pricer: Pricer
}

/**
 * The lines each reseller should have been charged for in its plan's months, from the full
 * version history of every subscription in its tree: streamed in one ordered query for the whole
 * chunk of resellers, computed per subscription in memory, never a query per subscription.
 */
export async function expectedLines(
  tx: Tx,
  plans: ReadonlyMap<string, TenantPlan>,
): Promise<Map<string, ExpectedLine[]>> {
  const out = new Map<string, ExpectedLine[]>([...plans.keys()].map((id) => [id, []]))
  let current: { id: string; tenantId: string; accountId: string; versions: SubVersion[] } | undefined
  const flush = () => {
    if (!current) return
    const plan = plans.get(current.tenantId)
    const lines = out.get(current.tenantId)
    if (!plan || !lines) return
    for (const charge of chargesOf(current.id, current.versions, plan.window, plan.price)) {
      if (!plan.months.has(monthOf(charge.eventDate))) continue
      // Priced in place: a run creates a million of these, so no copies.
      const priced = plan.pricer(charge) as ExpectedLine
      priced.subscriptionId = current.id
      priced.accountId = current.accountId
      lines.push(priced)
    }
  }
  const cursor = tx<VersionRow[]>`
    select s.tenant_id, v.subscription_id, s.account_id, v.id::text as version_id, v.effective_date::text,
      (v.state->>'quantity')::int as quantity, v.state->'product'->>'sku' as sku, v.state->'product'->>'name' as product_name,
      v.state->>'billing_cycle' as billing_cycle, v.state->>'term' as term, v.state->>'start_date' as start_date,
      v.state->>'end_date' as end_date, v.state->>'status' as status
    from subscription_versions v join subscriptions s on s.id = v.subscription_id
    where s.tenant_id = any(${[...plans.keys()]}::uuid[])
    order by v.subscription_id, v.sequence nulls first, v.occurred_at, v.id`.cursor(5000)
  for await (const rows of cursor) {
    for (const r of rows) {
      if (current?.id !== r.subscription_id) {
        flush()
        current = { id: r.subscription_id, tenantId: r.tenant_id, accountId: r.account_id, versions: [] }
      }
      current.versions.push(toVersion(r))
    }
  }
  flush()
  return out
}

/** Months a run for `period` looks at: the target month and finalized months within the lookback. */
export function lookbackStart(period: string, lookbackMonths: number): string {
  return addMonthsToPeriod(period, -lookbackMonths)
}
