import { Decimal } from 'decimal.js'

/** Money is exact: decimal.js for prices, integer minor units (bigint in Postgres) for amounts. */
export const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP })
export type D = Decimal

export const RoundingMode = ['half_up', 'half_even', 'down'] as const
export type RoundingMode = (typeof RoundingMode)[number]
export const RoundingStage = ['line', 'unit'] as const
export type RoundingStage = (typeof RoundingStage)[number]

const MODES: Record<RoundingMode, Decimal.Rounding> = {
  // half_up rounds halves away from zero, for credits too (-40.645 -> -40.65).
  half_up: Decimal.ROUND_HALF_UP,
  half_even: Decimal.ROUND_HALF_EVEN,
  down: Decimal.ROUND_DOWN,
}

const digitsCache = new Map<string, number>()

/** The currency's minor-unit digits (EUR 2, JPY 0, BHD 3), from the platform's ISO 4217 data. */
export function minorDigits(currency: string): number {
  let digits = digitsCache.get(currency)
  if (digits === undefined) {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    digitsCache.set(currency, digits)
  }
  return digits
}

/** Rounds to the currency's minor unit with the price book's mode. */
export function roundMoney(value: Decimal, currency: string, mode: RoundingMode): Decimal {
  return value.toDecimalPlaces(minorDigits(currency), MODES[mode])
}

/** A value already rounded to the minor unit, as an integer count of minor units. */
export function toMinor(value: Decimal, currency: string): bigint {
  const digits = minorDigits(currency)
  if (value.decimalPlaces() > digits)
    throw new Error(`${value.toString()} is not rounded to ${currency} minor units`)
  const fixed = value.toFixed(digits)
  return BigInt(digits === 0 ? fixed : fixed.replace('.', ''))
}

export function fromMinor(minor: bigint | string | number, currency: string): Decimal {
  return new D(String(minor)).dividedBy(new D(10).pow(minorDigits(currency)))
}

/** "84.38" for 8438 EUR minor units: decimals travel as strings, never JS numbers. */
export function formatMinor(minor: bigint | string | number, currency: string): string {
  return fromMinor(minor, currency).toFixed(minorDigits(currency))
}
