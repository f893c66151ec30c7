import type { CanonicalEvent } from '../helpers/reseller.js'

/**
 * A reseller's history as canonical events in the order they happened (causal: a parent before
 * its children), richer than the simulator's load: sub-resellers with customers under them,
 * customers moving between resellers, renamed accounts, trials turning paid, add-ons, status
 * changes (one unknown to us), quantity changes, and closed accounts. Deterministic per seed.
 */
export type StoryOptions = {
  resellers: number
  customers: number
  subscriptions: number
  /** Versions per subscription after its first. */
  versions: number
  seed: number
}

const START = Date.UTC(2026, 10, 1)
const STATUSES = ['active', 'active', 'active', 'suspended', 'cancelled', 'on_hold_by_vendor']
const SKUS = [
  { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' },
  { sku: 'CFQ7TTC0LDPB:0001', name: 'Microsoft 365 Business Basic' },
  { sku: 'CFQ7TTC0LHSF:0001', name: 'Exchange Online Archiving' },
]

export function storyEvents(o: StoryOptions): CanonicalEvent[] {
  const random = lcg(o.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const events: CanonicalEvent[] = []
  const seq = new Map<string, number>()
  const emit = (type: string, data: Record<string, unknown>) => {
    const key = `${type.split('.')[0]}:${String(data.id)}`
    const sequence = (seq.get(key) ?? 0) + 1
    seq.set(key, sequence)
    events.push({ type, occurred_at: new Date(START + events.length * 60_000).toISOString(), sequence, data })
  }

  const reseller = (r: number, version = 0) => ({
    id: `r${r}`,
    type: 'reseller',
    parent_id: null,
    name: `Lite Reseller ${r}${version ? ` v${version}` : ''}`,
    number: `L-${r}`,
    email: `ops${version}@lite-${r}.example`,
    billing_address: { line1: `${r + 1} Main St`, city: 'Athens', postal_code: '10431', country: 'GR' },
  })
  const parents = new Map<number, string | null>()
  const customer = (c: number, version = 0) => ({
    id: `c${c}`,
    type: 'customer',
    parent_id: parents.get(c) ?? null,
    name: `Customer ${c}${version ? ` v${version}` : ''}`,
    number: version % 2 ? null : `C-${c}`,
    email: `it${version}@customer-${c}.example`,
    billing_address: version % 3 === 2 ? null : { line1: `${c} Harbour Rd`, city: 'Piraeus', country: 'GR' },
  })
  for (let r = 0; r < o.resellers; r++) emit('account.created', reseller(r))
  for (let c = 0; c < o.customers; c++) {
    // Every (resellers + 1)th customer sits directly under the tenant reseller.
    parents.set(c, c % (o.resellers + 1) === o.resellers ? null : `r${c % (o.resellers + 1)}`)
    emit('account.created', customer(c))
  }

  type Sub = { id: string; account: string; parent: string | null; sku: (typeof SKUS)[number] }
  const subs: Sub[] = []
  const subscription = (s: Sub, over: Record<string, unknown>) => ({
    id: s.id,
    account_id: s.account,
    parent_subscription_id: s.parent,
    product: s.sku,
    status: 'active',
    paid: true,
    quantity: 1 + Math.floor(random() * 300),
    billing_cycle: 'monthly',
    term: 'P1Y',
    start_date: '2026-11-01',
    end_date: '2027-10-31',
    activation_date: '2026-11-01',
    auto_renew: random() < 0.8,
    characteristics: [{ code: 'domain', name: 'Tenant domain', value: `${s.account}.onmicrosoft.com` }],
    ...over,
  })
  for (let i = 0; i < o.subscriptions; i++) {
    // Every fourth is an add-on of the one before it, on the same account.
    const base = i % 4 === 3 ? subs[i - 1] : undefined
    const s: Sub = {
      id: `s${i}`,
      account: base?.account ?? `c${i % o.customers}`,
      parent: base?.id ?? null,
      sku: pick(SKUS),
    }
    subs.push(s)
    // Every seventh starts as a trial (unpaid: ignored) and turns paid at its next version.
    emit('subscription.created', subscription(s, i % 7 === 0 && !base ? { paid: false, quantity: 25 } : {}))
    if (i % 7 === 0 && !base) emit('subscription.updated', subscription(s, {}))
  }

  for (let v = 0; v < o.versions; v++) {
    for (const s of subs) {
      const status = pick(STATUSES)
      emit(
        status === 'suspended' ? 'subscription.suspended' : 'subscription.updated',
        subscription(s, { status }),
      )
    }
    // Some accounts change between rounds: renamed, or a customer moved to another reseller.
    for (let c = 0; c < o.customers; c++) {
      if (random() < 0.3) {
        if (random() < 0.3) parents.set(c, random() < 0.2 ? null : `r${Math.floor(random() * o.resellers)}`)
        emit('account.updated', customer(c, v + 1))
      }
    }
    if (v % 3 === 1) for (let r = 0; r < o.resellers; r++) emit('account.updated', reseller(r, v + 1))
  }
  // Some customers close at the end (their subscriptions stay as last sent).
  for (let c = 0; c < o.customers; c += 5) emit('account.deleted', { id: `c${c}` })
  return events
}

/** A small seeded PRNG, so a failing story can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** Fisher-Yates with a seed. */
export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const random = lcg(seed)
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}
