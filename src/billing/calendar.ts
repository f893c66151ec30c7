/**
 * UTC calendar dates as 'YYYY-MM-DD' strings (they sort and compare as dates). Arithmetic is on
 * whole days with integer civil-date algorithms (H. Hinnant's days_from_civil): no Date objects,
 * no time zones, and fast enough for millions of lines.
 */
export type IsoDate = string

export type DateParts = [year: number, month: number, day: number]

export function parse(d: IsoDate): DateParts {
  return [Number(d.slice(0, 4)), Number(d.slice(5, 7)), Number(d.slice(8, 10))]
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
export function dayNumber(d: IsoDate): number {
  const [y0, m, day] = parse(d)
  const y = m <= 2 ? y0 - 1 : y0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

export function fromDayNumber(n: number): IsoDate {
  const z = n + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  return format(y, m, day)
}

export function format(y: number, m: number, d: number): IsoDate {
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`
}

export function addDays(d: IsoDate, n: number): IsoDate {
  return fromDayNumber(dayNumber(d) + n)
}

/** Days from a to b, both counted (a..b inclusive). */
export function daysInclusive(a: IsoDate, b: IsoDate): number {
  return dayNumber(b) - dayNumber(a) + 1
}

/** Days in a month; `month0` counts from 0 (January). */
export function daysInMonth(year: number, month0: number): number {
  if (month0 === 1) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month0 === 3 || month0 === 5 || month0 === 8 || month0 === 10 ? 30 : 31
}

/**
 * The anniversary `months` after `anchor`: the anchor's day of the month, clamped to the
 * month's last day (Jan 31 + 1 month = Feb 28/29; the next one is Mar 31 again).
 */
export function anniversary(anchor: IsoDate, months: number): IsoDate {
  const [y, m, d] = anniversaryParts(parse(anchor), months)
  return format(y, m, d)
}

/** anniversary() on an anchor parsed once (a cycle loop runs it for every cycle). */
export function anniversaryParts([y, m, d]: DateParts, months: number): DateParts {
  const total = m - 1 + months
  const year = y + Math.floor(total / 12)
  const month0 = ((total % 12) + 12) % 12
  return [year, month0 + 1, Math.min(d, daysInMonth(year, month0))]
}

/** The day before, without leaving calendar parts. */
export function dayBefore([y, m, d]: DateParts): DateParts {
  if (d > 1) return [y, m, d - 1]
  if (m > 1) return [y, m - 1, daysInMonth(y, m - 2)]
  return [y - 1, 12, 31]
}

/** 'YYYY-MM' -> its first and last day. */
export function monthRange(period: string): { from: IsoDate; to: IsoDate } {
  const [y, m] = period.split('-').map(Number) as [number, number]
  return { from: `${period}-01`, to: format(y, m, daysInMonth(y, m - 1)) }
}

export function monthOf(d: IsoDate): string {
  return d.slice(0, 7)
}

export function addMonthsToPeriod(period: string, n: number): string {
  const [y, m] = period.split('-').map(Number) as [number, number]
  const total = y * 12 + (m - 1) + n
  return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}`
}

export function laterOf(a: IsoDate, b: IsoDate): IsoDate {
  return a >= b ? a : b
}
