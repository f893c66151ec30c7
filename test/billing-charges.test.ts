import { describe, expect, it } from 'vitest'
import { anniversary } from '../src/billing/calendar.js'
import {
  type Charge,
  chargesOf,
  type PriceLookup,
  type SubState,
  type SubVersion,
} from '../src/billing/charges.js'
import { D, formatMinor } from '../src/billing/money.js'
import { priceCharge, type Rounding } from '../src/billing/pricing.js'

const LINE_HALF_UP: Rounding = { stage: 'line', mode: 'half_up' }
const flat =
  (prices: Record<string, string>): PriceLookup =>
  ({ sku }) =>
    prices[sku] === undefined ? undefined : new D(prices[sku])

const base: SubState = {
  quantity: 5,
  sku: 'M365',
  product_name: 'Microsoft 365',
  billing_cycle: 'monthly',
  term: 'P1M',
  start_date: '2026-03-10',
  end_date: null,
  status: 'active',
}
let vid = 0
const v = (effectiveDate: string, over: Partial<SubState> = {}): SubVersion => ({
  versionId: String(++vid),
  effectiveDate,
  state: { ...base, ...over },
})

function priced(charges: Charge[], rounding = LINE_HALF_UP, currency = 'EUR') {
  return charges.map((c) => {
    const p = priceCharge(c, currency, rounding)
    return {
      type: c.chargeType,
      start: c.chargeStart,
      end: c.chargeEnd,
      qty: c.quantity,
      eff: p.effectiveUnitPrice?.toFixed(6),
      amount: formatMinor(p.amountMinor, currency),
      ref: c.referenceId,
    }
  })
}

describe('BILLING.md worked example (line + half_up, EUR)', () => {
  const versions = [v('2026-03-10', { quantity: 5 }), v('2026-03-20', { quantity: 8 })]
  const price = flat({ M365: '12.00' })

  it('March: new 60.00, remove -40.65, add 65.03 = 84.38', () => {
    const march = priced(chargesOf('s1', versions, { from: '2026-03-01', to: '2026-03-31' }, price))
    expect(march.map(({ ref: _, ...l }) => l)).toEqual([
      { type: 'new', start: '2026-03-10', end: '2026-04-09', qty: 5, eff: '12.000000', amount: '60.00' },
      {
        type: 'remove_quantity',
        start: '2026-03-20',
        end: '2026-04-09',
        qty: -5,
        eff: '8.129032',
        amount: '-40.65',
      },
      {
        type: 'add_quantity',
        start: '2026-03-20',
        end: '2026-04-09',
        qty: 8,
        eff: '8.129032',
        amount: '65.03',
      },
    ])
    expect(march[1]?.ref).toBe(march[2]?.ref)
    const total = march.reduce((sum, l) => sum.plus(l.amount), new D(0))
    expect(total.toFixed(2)).toBe('84.38')
  })

  it('April: the next cycle (30 days) is a cycle_charge of 96.00', () => {
    const april = priced(chargesOf('s1', versions, { from: '2026-04-01', to: '2026-04-30' }, price))
    expect(april.map(({ ref: _, ...l }) => l)).toEqual([
      {
        type: 'cycle_charge',
        start: '2026-04-10',
        end: '2026-05-09',
        qty: 8,
        eff: '12.000000',
        amount: '96.00',
      },
    ])
  })
})

describe('anniversaries clamp to the month end', () => {
  it('31st: 01-31, 02-28, 03-31, 04-30 (as BILLING.md: cycles 01-31..02-27, 02-28..03-30, 03-31..04-29)', () => {
    expect([0, 1, 2, 3].map((m) => anniversary('2026-01-31', m))).toEqual([
      '2026-01-31',
      '2026-02-28',
      '2026-03-31',
      '2026-04-30',
    ])
    const charges = chargesOf(
      's',
      [v('2026-01-31', { start_date: '2026-01-31' })],
      { from: '2026-01-01', to: '2026-04-30' },
      flat({ M365: '10' }),
    )
    expect(charges.map((c) => [c.chargeStart, c.chargeEnd])).toEqual([
      ['2026-01-31', '2026-02-27'],
      ['2026-02-28', '2026-03-30'],
      ['2026-03-31', '2026-04-29'],
      ['2026-04-30', '2026-05-30'],
    ])
  })

  it('30th: February clamps to the 28th, March is the 30th again', () => {
    expect([0, 1, 2].map((m) => anniversary('2026-01-30', m))).toEqual([
      '2026-01-30',
      '2026-02-28',
      '2026-03-30',
    ])
  })

  it('29 February on an annual term: 2028-02-29 -> 2029-02-28 -> 2032-02-29', () => {
    const charges = chargesOf(
      's',
      [v('2028-02-29', { start_date: '2028-02-29', billing_cycle: 'annual', term: 'P1Y' })],
      { from: '2028-01-01', to: '2030-12-31' },
      flat({ M365: '120' }),
    )
    expect(charges.map((c) => [c.chargeType, c.chargeStart, c.chargeEnd, c.cycleDays])).toEqual([
      ['new', '2028-02-29', '2029-02-27', 365],
      ['cycle_charge', '2029-02-28', '2030-02-27', 365],
      ['cycle_charge', '2030-02-28', '2031-02-27', 365],
    ])
    expect(anniversary('2028-02-29', 48)).toBe('2032-02-29')
  })
})

describe('charge types', () => {
  const price = flat({ M365: '12.00', E5: '30.00' })
  const window = { from: '2026-03-01', to: '2026-05-31' }

  it('convert: a product change is a pair over the remaining days, the new leg at the new price', () => {
    const lines = priced(
      chargesOf('s', [v('2026-03-10'), v('2026-03-20', { sku: 'E5', quantity: 5 })], window, price),
    )
    const convert = lines.filter((l) => l.type === 'convert')
    expect(convert).toEqual([
      expect.objectContaining({ qty: -5, eff: '8.129032', amount: '-40.65' }),
      expect.objectContaining({ qty: 5, eff: '20.322581', amount: '101.61' }),
    ])
    expect(convert[0]?.ref).toBe(convert[1]?.ref)
    expect(lines.filter((l) => l.type === 'cycle_charge').map((l) => l.amount)).toEqual(['150.00', '150.00'])
  })

  it('cancel: a negative line for the remaining days, and no more cycle charges', () => {
    const lines = priced(
      chargesOf('s', [v('2026-03-10'), v('2026-03-20', { status: 'cancelled' })], window, price),
    )
    expect(lines.map((l) => [l.type, l.qty, l.amount])).toEqual([
      ['new', 5, '60.00'],
      ['cancel', -5, '-40.65'],
    ])
  })

  it('suspension is still billed', () => {
    const lines = priced(
      chargesOf('s', [v('2026-03-10'), v('2026-03-20', { status: 'suspended' })], window, price),
    )
    expect(lines.map((l) => [l.type, l.amount])).toEqual([
      ['new', '60.00'],
      ['cycle_charge', '60.00'],
      ['cycle_charge', '60.00'],
    ])
  })

  it('renew: the cycle after an end date the BSS extended', () => {
    const annual = {
      billing_cycle: 'annual' as const,
      term: 'P1Y' as const,
      start_date: '2026-03-10',
      end_date: '2027-03-09',
    }
    const lines = chargesOf(
      's',
      [v('2026-03-10', annual), v('2027-02-01', { ...annual, end_date: '2028-03-09' })],
      { from: '2026-01-01', to: '2028-12-31' },
      flat({ M365: '144' }),
    )
    expect(lines.map((l) => [l.chargeType, l.chargeStart])).toEqual([
      ['new', '2026-03-10'],
      ['renew', '2027-03-10'],
    ])
  })

  it('an unrenewed term ends: no charge after the end date', () => {
    const lines = chargesOf('s', [v('2026-03-10', { end_date: '2026-04-09' })], window, price)
    expect(lines.map((l) => l.chargeType)).toEqual(['new'])
  })

  it('triennial billing is one line for the whole term; one_time is one line', () => {
    const tri = chargesOf(
      's',
      [v('2026-03-10', { billing_cycle: 'triennial', term: 'P3Y' })],
      { from: '2026-01-01', to: '2031-12-31' },
      price,
    )
    expect(tri.map((l) => [l.chargeType, l.chargeStart, l.chargeEnd])).toEqual([
      ['new', '2026-03-10', '2029-03-09'],
      ['cycle_charge', '2029-03-10', '2032-03-09'],
    ])
    const once = chargesOf(
      's',
      [v('2026-03-10', { billing_cycle: 'one_time', term: 'P1Y' })],
      { from: '2026-01-01', to: '2031-12-31' },
      price,
    )
    expect(once.map((l) => [l.chargeType, l.chargeEnd])).toEqual([['new', '2027-03-09']])
  })

  it('several changes on one day are several pairs, in order', () => {
    const lines = priced(
      chargesOf(
        's',
        [v('2026-03-10'), v('2026-03-20', { quantity: 8 }), v('2026-03-20', { quantity: 6 })],
        { from: '2026-03-01', to: '2026-03-31' },
        price,
      ),
    )
    expect(lines.map((l) => [l.type, l.qty])).toEqual([
      ['new', 5],
      ['remove_quantity', -5],
      ['add_quantity', 8],
      ['remove_quantity', -8],
      ['add_quantity', 6],
    ])
    expect(new Set(lines.slice(1).map((l) => l.ref)).size).toBe(2)
    expect(lines.reduce((s, l) => s.plus(l.amount), new D(0)).toFixed(2)).toBe('68.12')
  })

  it('an unpriced sku yields a zero line flagged unpriced', () => {
    const [line] = chargesOf(
      's',
      [v('2026-03-10', { sku: 'NOPE' })],
      { from: '2026-03-01', to: '2026-03-31' },
      price,
    )
    const p = priceCharge(line as Charge, 'EUR', LINE_HALF_UP)
    expect(p).toMatchObject({ unpriced: true, amountMinor: 0n })
  })
})

describe('rounding stages and modes', () => {
  // 12.00 x 21 / 31 = 8.12903225...; x -5 = -40.6451612...; x 8 = 65.0322580...
  const versions = [v('2026-03-10'), v('2026-03-20', { quantity: 8 })]
  const change = (r: Rounding) =>
    priced(chargesOf('s', versions, { from: '2026-03-01', to: '2026-03-31' }, flat({ M365: '12.00' })), r)
      .slice(1)
      .map((l) => l.amount)

  it.each([
    ['line', 'half_up', ['-40.65', '65.03']],
    ['line', 'half_even', ['-40.65', '65.03']],
    ['line', 'down', ['-40.64', '65.03']],
    // unit: the effective price is rounded first (8.13 or 8.12), then multiplied.
    ['unit', 'half_up', ['-40.65', '65.04']],
    ['unit', 'half_even', ['-40.65', '65.04']],
    ['unit', 'down', ['-40.60', '64.96']],
  ] as const)('%s + %s', (stage, mode, want) => {
    expect(change({ stage, mode })).toEqual(want)
  })

  it('half_even and half_up differ on an exact half', () => {
    // 10.05 x 15 / 30 = 5.025: half_up 5.03, half_even 5.02, down 5.02
    const charges = chargesOf(
      's',
      [
        v('2026-04-01', { start_date: '2026-04-01', quantity: 1 }),
        v('2026-04-16', { start_date: '2026-04-01', quantity: 2 }),
      ],
      { from: '2026-04-01', to: '2026-04-30' },
      flat({ M365: '10.05' }),
    )
    const add = charges.find((c) => c.chargeType === 'remove_quantity') as Charge
    const amount = (mode: 'half_up' | 'half_even' | 'down') =>
      formatMinor(priceCharge(add, 'EUR', { stage: 'line', mode }).amountMinor, 'EUR')
    expect([amount('half_up'), amount('half_even'), amount('down')]).toEqual(['-5.03', '-5.02', '-5.02'])
  })

  it('uses the currency minor unit (JPY has none)', () => {
    const [line] = chargesOf(
      's',
      [v('2026-03-10')],
      { from: '2026-03-01', to: '2026-03-31' },
      flat({ M365: '1234.5' }),
    )
    expect(formatMinor(priceCharge(line as Charge, 'JPY', LINE_HALF_UP).amountMinor, 'JPY')).toBe('6173')
  })
})

describe('calendar arithmetic', () => {
  it('matches the platform calendar day by day from 1900 to 2200', async () => {
    const { dayNumber, fromDayNumber } = await import('../src/billing/calendar.js')
    for (let n = -25567; n < 84000; n++) {
      const iso = new Date(n * 86_400_000).toISOString().slice(0, 10)
      if (dayNumber(iso) !== n || fromDayNumber(n) !== iso) throw new Error(`${n} ${iso}`)
    }
  })
})
