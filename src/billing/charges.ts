import { createHash } from 'node:crypto'
import {
  addDays,
  anniversaryParts,
  dayBefore,
  daysInclusive,
  format,
  type IsoDate,
  laterOf,
  parse,
} from './calendar.js'
import type { D } from './money.js'

/**
 * The charge ledger of one subscription (BILLING.md rules 1 to 5), derived from its versions.
 * Pure: versions in, charge lines out; pricing is a lookup passed in, rounding happens later.
 */

export const ChargeType = [
  'new',
  'cycle_charge',
  'renew',
  'add_quantity',
  'remove_quantity',
  'convert',
  'cancel',
] as const
export type ChargeType = (typeof ChargeType)[number]

export type BillingCycle = 'monthly' | 'annual' | 'triennial' | 'one_time'
export type SubState = {
  quantity: number
  sku: string
  product_name: string | null
  billing_cycle: BillingCycle
  term: 'P1M' | 'P1Y' | 'P3Y' | null
  start_date: IsoDate | null
  end_date: IsoDate | null
  status: string
}
export type SubVersion = { versionId: string; effectiveDate: IsoDate; state: SubState }

export type PriceLookup = (q: {
  sku: string
  billingCycle: BillingCycle
  term: SubState['term']
  on: IsoDate
}) => D | undefined

export type Charge = {
  key: string
  chargeType: ChargeType
  referenceId: string
  leg: '' | 'old' | 'new'
  eventDate: IsoDate
  chargeStart: IsoDate
  chargeEnd: IsoDate
  sku: string
  productName: string | null
  /** Signed: negative for the lines that take back (remove, the old leg of a convert, cancel). */
  quantity: number
  /** Frozen at the cycle's start; undefined when the price book has no price (an `unpriced` line). */
  unitPrice: D | undefined
  billingDays: number
  cycleDays: number
}

type Cycle = { start: IsoDate; end: IsoDate }

const TERM_MONTHS = { P1M: 1, P1Y: 12, P3Y: 36 } as const

function cycleMonths(s: SubState): number | undefined {
  switch (s.billing_cycle) {
    case 'monthly':
      return 1
    case 'annual':
      return 12
    case 'triennial':
      return 36
    case 'one_time':
      return undefined
  }
}

/**
 * What makes a charge the same charge: (subscription, type, reference, cycle, leg). Stored as the
 * 128-bit MD5 of that text, a uuid: a run's unique indexes stay small enough to live in memory.
 */
export function lineKey(...parts: string[]): string {
  const h = createHash('md5').update(parts.join('|')).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Cancelled and expired subscriptions are not billed; suspended ones are (as in new commerce). */
export function billable(s: SubState): boolean {
  return s.status !== 'cancelled' && s.status !== 'expired'
}

export function chargesOf(
  subscriptionId: string,
  versions: readonly SubVersion[],
  window: { from: IsoDate; to: IsoDate },
  price: PriceLookup,
): Charge[] {
  const first = versions[0]
  const latest = versions[versions.length - 1]
  if (!first || !latest) return []
  const anchor = latest.state.start_date ?? first.state.start_date ?? first.effectiveDate
  const stateAt = (d: IsoDate): SubState => {
    let s = first.state
    for (const v of versions) if (v.effectiveDate <= d) s = v.state
    return s
  }

  // Cycles from the anchor until past the window; each cycle's length follows the billing cycle
  // in force at its start. One-time billing is one cycle spanning the term.
  const cycles: Cycle[] = []
  const anchorParts = parse(anchor)
  let months = 0
  for (let start = anchor; start <= window.to; ) {
    const s = stateAt(start)
    const step = cycleMonths(s)
    const next = anniversaryParts(anchorParts, months + (step ?? TERM_MONTHS[s.term ?? 'P1Y']))
    const end = dayBefore(next)
    cycles.push({ start, end: format(end[0], end[1], end[2]) })
    if (step === undefined) break
    months += step
    start = format(next[0], next[1], next[2])
  }
  const cycleOf = (d: IsoDate) => cycles.find((c) => c.start <= d && d <= c.end)

  // A renewal is a cycle that starts the day after an end date the BSS later extended.
  const renewals = new Set<IsoDate>()
  for (let i = 1; i < versions.length; i++) {
    const prevEnd = versions[i - 1]?.state.end_date
    const nextEnd = versions[i]?.state.end_date
    if (prevEnd && nextEnd && nextEnd > prevEnd) renewals.add(addDays(prevEnd, 1))
  }

  const out: Charge[] = []
  const line = (
    type: ChargeType,
    ref: string,
    leg: Charge['leg'],
    eventDate: IsoDate,
    cycle: Cycle,
    s: SubState,
    quantity: number,
  ) => {
    if (eventDate < window.from || eventDate > window.to) return
    out.push({
      key: lineKey(subscriptionId, type, ref, cycle.start, cycle.end, leg),
      chargeType: type,
      referenceId: ref,
      leg,
      eventDate,
      chargeStart: eventDate,
      chargeEnd: cycle.end,
      sku: s.sku,
      productName: s.product_name,
      quantity,
      unitPrice: price({ sku: s.sku, billingCycle: s.billing_cycle, term: s.term, on: cycle.start }),
      billingDays: daysInclusive(eventDate, cycle.end),
      cycleDays: daysInclusive(cycle.start, cycle.end),
    })
  }

  const [firstCycle, ...later] = cycles
  if (firstCycle && billable(first.state)) {
    line('new', `new-${first.versionId}`, '', firstCycle.start, firstCycle, first.state, first.state.quantity)
  }
  for (const cycle of later) {
    const s = stateAt(cycle.start)
    if (!billable(s) || (s.end_date !== null && cycle.start > s.end_date)) break
    line(
      renewals.has(cycle.start) ? 'renew' : 'cycle_charge',
      `cycle-${cycle.start}`,
      '',
      cycle.start,
      cycle,
      s,
      s.quantity,
    )
  }

  // Mid-cycle changes: wipe and recreate over the change day .. cycle end, one reference a change.
  for (let i = 1; i < versions.length; i++) {
    const prev = (versions[i - 1] as SubVersion).state
    const v = versions[i] as SubVersion
    const cur = v.state
    const day = laterOf(v.effectiveDate, anchor)
    const cycle = cycleOf(day)
    if (!cycle) continue
    const ref = `change-${v.versionId}`
    if (billable(prev) && !billable(cur)) {
      if (cur.status === 'cancelled') line('cancel', ref, '', day, cycle, prev, -prev.quantity)
    } else if (!billable(prev) && billable(cur)) {
      line('add_quantity', ref, 'new', day, cycle, cur, cur.quantity)
    } else if (billable(cur)) {
      const converted =
        prev.sku !== cur.sku || prev.billing_cycle !== cur.billing_cycle || prev.term !== cur.term
      if (converted) {
        line('convert', ref, 'old', day, cycle, prev, -prev.quantity)
        line('convert', ref, 'new', day, cycle, cur, cur.quantity)
      } else if (prev.quantity !== cur.quantity) {
        line('remove_quantity', ref, 'old', day, cycle, prev, -prev.quantity)
        line('add_quantity', ref, 'new', day, cycle, cur, cur.quantity)
      }
    }
  }
  return out
}
