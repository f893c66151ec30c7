import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { CanonicalEventType } from '../../src/mappers/canonical.js'
import { account, subscription } from '../helpers/reseller.js'

/**
 * Payloads close to what each format really sends, so the fuzzer gets past the first check and
 * reaches the deep paths: the recorded fixtures (test/fixtures/<format>/), mutated a few places
 * at a time, with values that break things (wrong types, huge numbers, NUL, lone surrogates,
 * impossible dates, hostile URIs) or that are plausible but misplaced (leaves of other fixtures).
 */

type Json = unknown
type Path = (string | number)[]

export function fixtures(format: string, only: RegExp = /./): Json[] {
  if (format === 'canonical') {
    return [
      account('acc-1', { type: 'reseller' }, { seq: 1 }),
      account('acc-2', { parent_id: 'acc-1' }, { seq: 3, type: 'account.updated' }),
      { type: 'account.deleted', occurred_at: '2026-11-02T00:00:00Z', sequence: 4, data: { id: 'acc-2' } },
      subscription('sub-1', 'acc-2', {}, { seq: 1 }),
      subscription('sub-2', 'acc-2', { parent_subscription_id: 'sub-1', paid: false }, { seq: 2 }),
      { type: 'test.ping', occurred_at: '2026-11-01T00:00:00Z', data: {} },
    ]
  }
  const dir = new URL(`../fixtures/${format}/`, import.meta.url)
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && only.test(f))
    .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Json)
}

function paths(v: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix)
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...prefix, i], out)
  } else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Record<string, Json>)) paths(x, [...prefix, k], out)
  return out
}

function leaves(vs: Json[]): Json[] {
  const out = new Set<Json>()
  for (const v of vs)
    for (const p of paths(v)) {
      const x = at(v, p)
      if (x === null || typeof x !== 'object') out.add(x)
    }
  return [...out]
}

function at(v: Json, p: Path): Json {
  let x = v
  for (const k of p) {
    if (x === null || typeof x !== 'object') return undefined
    x = (x as Record<string | number, Json>)[k]
  }
  return x
}

const HOSTILE: Json[] = [
  null,
  '',
  ' ',
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  true,
  [],
  {},
  [null],
  'x'.repeat(600),
  '\u0000',
  'a\u0000b',
  '\ud800',
  '2026-02-30',
  '2026-02-30T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '+275760-09-13T00:00:00Z',
  'NaN',
  '..',
  '%2e%2e',
  '../../admin',
  'https://evil.example/v1/customers/a/subscriptions/b',
  '//evil.example/x',
  "'; drop table inbox; --",
  '__proto__',
  { __proto__: null, constructor: 'x' },
]

type Mutation = { at: number; op: 'delete' | 'set' | 'dup' | 'taint'; value: Json }

/** Characters a string field may carry in JSON that a database or a log line may not take. */
const TAINTS = ['\u0000', '\u0000', '\u0000', '\ud800', '\udfff', '\u202e', '\uffff', '\n', '%00', '\\']

function apply(seed: Json, ms: Mutation[]): Json {
  let root = structuredClone(seed)
  for (const m of ms) {
    const ps = paths(root)
    const p = ps[m.at % ps.length] ?? []
    if (p.length === 0) {
      if (m.op === 'set') root = m.value
      continue
    }
    const parent = at(root, p.slice(0, -1)) as Record<string | number, Json>
    const key = p[p.length - 1] as string | number
    if (parent === null || typeof parent !== 'object') continue
    if (m.op === 'taint') {
      // A string corrupted in place keeps the payload recognisable: it reaches the deep checks.
      const x = parent[key]
      if (typeof x === 'string') {
        const i = m.at % (x.length + 1)
        parent[key] = `${x.slice(0, i)}${TAINTS[Math.floor(m.at / 7) % TAINTS.length]}${x.slice(i)}`
      }
    } else if (m.op === 'delete') {
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1)
      else delete parent[key]
    } else if (m.op === 'dup') {
      const x = parent[key]
      if (Array.isArray(x)) x.push(structuredClone(x[0] ?? null))
      else parent[key] = [structuredClone(x)]
    } else parent[key] = structuredClone(m.value)
  }
  return root
}

/** A fixture of the format (those whose file name matches `only`), untouched or mutated in up to four places. */
export function mutatedFixture(format: string, only?: RegExp): fc.Arbitrary<Json> {
  const seeds = fixtures(format, only)
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...leaves(seeds)) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()) },
  )
  const mutation = fc.record({
    at: fc.nat(),
    op: fc.constantFrom<Mutation['op']>('set', 'set', 'set', 'taint', 'taint', 'taint', 'delete', 'dup'),
    value,
  })
  // A third untouched: the deep paths of a valid payload are part of what is fuzzed.
  const mutations = fc.oneof(
    fc.constant<Mutation[]>([]),
    fc.array(mutation, { minLength: 1, maxLength: 2 }),
    fc.array(mutation, { minLength: 1, maxLength: 4 }),
  )
  return fc.tuple(fc.constantFrom(...seeds), mutations).map(([seed, ms]) => apply(seed, ms))
}

/** A value right most of the time, hostile sometimes. */
export const maybe = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<T | Json> =>
  fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) })

/** Canonical events built field by field, each field right most of the time. */
export function canonicalEvent(): fc.Arbitrary<Json> {
  const id = maybe(fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,12}$/), fc.nat()))
  const date = maybe(
    fc
      .date({ min: new Date('2000-01-01'), max: new Date('2040-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  )
  const accountData = fc.record(
    {
      id,
      type: maybe(fc.constantFrom('reseller', 'customer')),
      parent_id: maybe(fc.option(fc.stringMatching(/^[a-z0-9-]{1,12}$/))),
      name: maybe(fc.string({ minLength: 1 })),
      number: maybe(fc.option(fc.string())),
      email: maybe(fc.option(fc.emailAddress())),
      billing_address: maybe(
        fc.option(fc.record({ line1: fc.string(), country: fc.string({ maxLength: 3 }) })),
      ),
    },
    { requiredKeys: ['id', 'type', 'name'] },
  )
  const subscriptionData = fc.record(
    {
      id,
      account_id: id,
      parent_subscription_id: maybe(fc.option(fc.stringMatching(/^[a-z0-9-]{1,12}$/))),
      product: maybe(fc.record({ sku: fc.string({ minLength: 1 }), name: fc.option(fc.string()) })),
      status: maybe(
        fc.constantFrom('pending', 'active', 'suspended', 'cancelled', 'expired', 'Transferring'),
      ),
      paid: maybe(fc.boolean()),
      quantity: maybe(fc.integer({ min: 0, max: 10_000_000 })),
      billing_cycle: maybe(fc.constantFrom('monthly', 'annual', 'triennial', 'one_time')),
      term: maybe(fc.option(fc.constantFrom('P1M', 'P1Y', 'P3Y'))),
      start_date: date,
      end_date: date,
      activation_date: date,
      auto_renew: maybe(fc.boolean()),
      characteristics: maybe(
        fc.array(
          fc.record({
            code: fc.string({ minLength: 1 }),
            name: fc.option(fc.string()),
            value: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
          }),
          { maxLength: 3 },
        ),
      ),
    },
    { requiredKeys: ['id', 'account_id', 'product', 'status', 'paid', 'quantity', 'billing_cycle'] },
  )
  const type = maybe(fc.constantFrom(...CanonicalEventType.options))
  return fc.record(
    {
      type,
      occurred_at: maybe(
        fc
          .date({
            min: new Date('0001-01-01T00:00:00Z'),
            max: new Date('9999-12-31T00:00:00Z'),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString()),
      ),
      sequence: maybe(fc.nat()),
      data: fc.oneof(accountData, subscriptionData, fc.constantFrom(...HOSTILE)),
    },
    { requiredKeys: ['type', 'occurred_at', 'data'] },
  )
}

/** What each format's webhook body looks like (Partner Center sends notifications only). */
const NEAR_REAL: Record<string, () => fc.Arbitrary<Json>> = {
  canonical: canonicalEvent,
  'partner-center': () => mutatedFixture('partner-center', /notification/),
}

/** Any payload a fuzzer might throw at a mapper: near-real ones mostly, anything at all sometimes. */
export function payload(format: string): fc.Arbitrary<Json> {
  return fc.oneof(
    { weight: 4, arbitrary: NEAR_REAL[format]?.() ?? mutatedFixture(format) },
    { weight: 2, arbitrary: mutatedFixture(format) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    {
      weight: 1,
      arbitrary: fc.anything({
        maxDepth: 3,
        withNullPrototype: true,
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withSparseArray: true,
      }),
    },
  )
}
