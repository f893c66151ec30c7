import type { Charge } from './charges.js'
import { D, type RoundingMode, type RoundingStage, roundMoney, toMinor } from './money.js'

export type Rounding = { stage: RoundingStage; mode: RoundingMode }

export type PricedCharge = Charge & {
  /** unit_price x billing_days / cycle_days: exact at stage `line`, rounded at stage `unit`. */
  effectiveUnitPrice: D | undefined
  amountMinor: bigint
  unpriced: boolean
}

/**
 * Rule 3 and 6: daily proration, then one rounding per line (stage `line`) or of the effective
 * unit price (stage `unit`), in the price book's mode. An unpriced charge is a zero line flagged
 * `unpriced`, never a silent zero.
 */
export function priceCharge(charge: Charge, currency: string, rounding: Rounding): PricedCharge {
  if (charge.unitPrice === undefined) {
    return { ...charge, effectiveUnitPrice: undefined, amountMinor: 0n, unpriced: true }
  }
  // A whole cycle (most lines) needs no division: its effective price is the unit price.
  let effective =
    charge.billingDays === charge.cycleDays
      ? charge.unitPrice
      : charge.unitPrice.times(charge.billingDays).dividedBy(charge.cycleDays)
  let amount: D
  if (rounding.stage === 'unit') {
    effective = roundMoney(effective, currency, rounding.mode)
    amount = effective.times(charge.quantity)
  } else {
    amount = roundMoney(effective.times(charge.quantity), currency, rounding.mode)
  }
  return { ...charge, effectiveUnitPrice: effective, amountMinor: toMinor(amount, currency), unpriced: false }
}

export { D }
