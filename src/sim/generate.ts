import { randomBytes } from 'node:crypto'
import type { Delivery } from './send.js'

export type GenerateOptions = {
  events: number
  subscriptions: number
  /** Subscriptions per account (default 10). */
  accountsPer?: number
  /** Seeds the quantities and which subscription each update is about (default 1). */
  seed?: number
  /** Part of every object and webhook id, so runs against one source don't collide (default random). */
  runId?: string
}

const PRODUCTS = [
  { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' },
  { sku: 'CFQ7TTC0LDPB:0001', name: 'Microsoft 365 Business Basic' },
  { sku: 'CFQ7TTC0LCHC:0002', name: 'Microsoft 365 E3' },
  { sku: 'CFQ7TTC0LH18:0001', name: 'Exchange Online (Plan 1)' },
  { sku: 'CFQ7TTC0MM8R:0002', name: 'Microsoft Teams Essentials' },
]
const START = Date.UTC(2026, 10, 1)
const MINUTE = 60_000

/**
 * Canonical events (CONTRACT section 3) for a load run: one `account.created` per account
 * (customers directly under the tenant), one `subscription.created` per subscription
 * (sequence 1), then `subscription.updated` events with increasing sequence per subscription and
 * seeded quantities. All paid. Truncated to `events` when that is fewer than the objects.
 */
export function generateEvents(opts: GenerateOptions): Delivery[] {
  const accountsPer = Math.max(1, Math.floor(opts.accountsPer ?? 10))
  const subscriptions = Math.max(0, Math.floor(opts.subscriptions))
  const accounts = Math.ceil(subscriptions / accountsPer)
  const total = Math.max(0, Math.floor(opts.events))
  const runId = opts.runId ?? randomBytes(4).toString('hex')
  const random = mulberry32(opts.seed ?? 1)
  const out: Delivery[] = []
  const push = (event: Record<string, unknown>, label: string) => {
    out.push({ body: JSON.stringify(event), webhookId: `msg_${runId}_${out.length}`, label })
  }
  const at = () => new Date(START + out.length * MINUTE).toISOString()

  for (let a = 0; a < accounts && out.length < total; a++) {
    const id = `acc-${runId}-${a}`
    push(
      {
        type: 'account.created',
        occurred_at: at(),
        sequence: 1,
        data: {
          id,
          type: 'customer',
          parent_id: null,
          name: `Customer ${runId} ${a}`,
          number: `C-${runId}-${a}`,
          email: `it-${a}@customer-${runId}.example`,
          billing_address: { line1: `${a + 1} Main St`, city: 'Athens', postal_code: '10431', country: 'GR' },
        },
      },
      `account ${id}`,
    )
  }

  const sequences: number[] = []
  const subscription = (s: number, type: string) => {
    const sequence = (sequences[s] ?? 0) + 1
    sequences[s] = sequence
    const id = `sub-${runId}-${s}`
    const product = PRODUCTS[s % PRODUCTS.length] ?? PRODUCTS[0]
    push(
      {
        type,
        occurred_at: at(),
        sequence,
        data: {
          id,
          account_id: `acc-${runId}-${Math.floor(s / accountsPer)}`,
          parent_subscription_id: null,
          product,
          status: 'active',
          paid: true,
          quantity: 1 + Math.floor(random() * 250),
          billing_cycle: 'monthly',
          term: 'P1Y',
          start_date: '2026-11-01',
          end_date: '2027-10-31',
          activation_date: '2026-11-01',
          auto_renew: true,
          characteristics: [
            { code: 'domain', name: 'Tenant domain', value: `customer-${runId}-${s}.onmicrosoft.com` },
          ],
        },
      },
      `${type} ${id} #${sequence}`,
    )
  }
  for (let s = 0; s < subscriptions && out.length < total; s++) subscription(s, 'subscription.created')
  while (subscriptions > 0 && out.length < total) {
    subscription(Math.floor(random() * subscriptions), 'subscription.updated')
  }
  return out
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
