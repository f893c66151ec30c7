/** UTC calendar dates as 'YYYY-MM-DD' strings; arithmetic in whole days, never local time. */
export type IsoDate = string

const DAY = 86_400_000

export function toDate(d: IsoDate): Date {
  return new Date(`${d}T00:00:00Z`)
}

export function fromDate(d: Date): IsoDate {
  return d.toISOString().slice(0, 10)
}

export function addDays(d: IsoDate, n: number): IsoDate {
  return fromDate(new Date(toDate(d).getTime() + n * DAY))
}

/** Days from a to b, both counted (a..b inclusive). */
export function daysInclusive(a: IsoDate, b: IsoDate): number {
  return Math.round((toDate(b).getTime() - toDate(a).getTime()) / DAY) + 1
}

export function daysInMonth(year: number, month0: number): number {
  return new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate()
}

/**
 * The anniversary `months` after `anchor`: the anchor's day of the month, clamped to the
 * month's last day (Jan 31 + 1 month = Feb 28/29; the next one is Mar 31 again).
 */
export function anniversary(anchor: IsoDate, months: number): IsoDate {
  const a = toDate(anchor)
  const total = a.getUTCMonth() + months
  const year = a.getUTCFullYear() + Math.floor(total / 12)
  const month0 = ((total % 12) + 12) % 12
  const day = Math.min(a.getUTCDate(), daysInMonth(year, month0))
  return fromDate(new Date(Date.UTC(year, month0, day)))
}

/** 'YYYY-MM' -> its first and last day. */
export function monthRange(period: string): { from: IsoDate; to: IsoDate } {
  const [y, m] = period.split('-').map(Number) as [number, number]
  return { from: `${period}-01`, to: fromDate(new Date(Date.UTC(y, m - 1, daysInMonth(y, m - 1)))) }
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
