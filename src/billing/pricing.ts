import type { Charge } from './charges.js'
import { type D, type RoundingMode, type RoundingStage, roundMoney, toMinor } from './money.js'

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
  const priced = charge as PricedCharge
  if (charge.unitPrice === undefined) {
    priced.effectiveUnitPrice = undefined
    priced.amountMinor = 0n
    priced.unpriced = true
    return priced
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
  // In place: the charge becomes the priced charge (callers own it; no copy per line).
  priced.effectiveUnitPrice = effective
  priced.amountMinor = toMinor(amount, currency)
  priced.unpriced = false
  return priced
}

export type Pricer = (charge: Charge) => PricedCharge

/**
 * priceCharge for one currency and rounding, remembering whole-cycle amounts: most lines of a run
 * are a whole cycle of the same price at a handful of quantities.
 */
export function createPricer(currency: string, rounding: Rounding): Pricer {
  const whole = new WeakMap<D, Map<number, bigint>>()
  return (charge) => {
    const unit = charge.unitPrice
    if (unit === undefined || charge.billingDays !== charge.cycleDays)
      return priceCharge(charge, currency, rounding)
    let byQuantity = whole.get(unit)
    if (!byQuantity) {
      byQuantity = new Map()
      whole.set(unit, byQuantity)
    }
    let amountMinor = byQuantity.get(charge.quantity)
    if (amountMinor === undefined) {
      amountMinor = priceCharge(charge, currency, rounding).amountMinor
      byQuantity.set(charge.quantity, amountMinor)
    }
    const priced = charge as PricedCharge
    priced.effectiveUnitPrice = rounding.stage === 'unit' ? roundMoney(unit, currency, rounding.mode) : unit
    priced.amountMinor = amountMinor
    priced.unpriced = false
    return priced
  }
}
