import { z } from 'zod'
import { CanonicalEnvelope } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'
import { CalendarDate, fail, neverThrowing, Quantity } from './fields.js'
import {
  AccountState,
  type FetchRequest,
  type MapContext,
  type MapResult,
  type Operation,
  SubscriptionState,
  type Version,
} from './operations.js'

/**
 * Microsoft Partner Center webhooks are thin (learn.microsoft.com, "Partner Center webhook
 * events"): `{ EventName, ResourceUri, ResourceName, AuditUri, ResourceChangeUtcDate }`. For a
 * subscription resource the worker first GETs the Subscription and its Customer; the state is
 * versioned at `ctx.fetchedAt`, when it was read. Any other resource (customer-created,
 * test-created, ...) is acknowledged and maps to no operations.
 */

const Id = AccountState.shape.id
const Timestamp = CanonicalEnvelope.shape.occurred_at
const Notification = z.looseObject({
  EventName: z.string().trim().min(1),
  ResourceUri: z.string().min(1).max(2048),
  ResourceChangeUtcDate: Timestamp,
})

const CYCLES: Record<string, SubscriptionState['billing_cycle']> = {
  monthly: 'monthly',
  annual: 'annual',
  triennial: 'triennial',
  one_time: 'one_time',
  onetime: 'one_time',
  // Usage-based offers (Azure plan) report `none`, and `unknown` is the SDK's default: both are
  // billed in arrears each month, so they map to monthly.
  none: 'monthly',
  unknown: 'monthly',
}
// Any other cycle fails the event rather than bill on a guessed cycle.
const BillingCycle = z.string().transform((v, ctx) => {
  const cycle = CYCLES[v.trim().toLowerCase()]
  if (cycle) return cycle
  ctx.addIssue({
    code: 'custom',
    message: 'unknown billingCycle (monthly, annual, triennial, one_time, none)',
  })
  return z.NEVER
})
const Address = z.looseObject({
  addressLine1: z.string().nullish(),
  addressLine2: z.string().nullish(),
  city: z.string().nullish(),
  state: z.string().nullish(),
  postalCode: z.string().nullish(),
  country: z.string().nullish(),
})
const Customer = z.looseObject({
  id: Id,
  companyProfile: z
    .looseObject({
      companyName: z.string().nullish(),
      domain: z.string().nullish(),
      email: z.string().nullish(),
    })
    .nullish(),
  billingProfile: z
    .looseObject({
      companyName: z.string().nullish(),
      email: z.string().nullish(),
      defaultAddress: Address.nullish(),
    })
    .nullish(),
})
const Subscription = z.looseObject({
  id: Id,
  offerId: Id,
  offerName: z.string().nullish(),
  quantity: Quantity,
  status: z.string().trim().min(1),
  billingCycle: BillingCycle.nullish(),
  termDuration: z.string().nullish(),
  autoRenewEnabled: z.boolean().nullish(),
  creationDate: CalendarDate.nullish(),
  effectiveStartDate: CalendarDate.nullish(),
  commitmentEndDate: CalendarDate.nullish(),
  parentSubscriptionId: Id.nullish(),
  isTrial: z.boolean().nullish(),
})

/**
 * Partner Center statuses. `disabled` is a subscription switched off for good (an expired or
 * cancelled term past its grace period, not something the partner can resume): closest to expired,
 * whereas `suspended` is the reversible state. `none` and any status not listed are kept raw.
 */
const STATUS: Record<string, string> = {
  active: 'active',
  suspended: 'suspended',
  deleted: 'cancelled',
  expired: 'expired',
  pending: 'pending',
  disabled: 'expired',
}
const TERMS = new Set(['P1M', 'P1Y', 'P3Y'])

type Target = { customerId: string; subscriptionId: string }

/**
 * The customer and subscription a ResourceUri names, from its path only: the host is never used
 * (fetch paths are joined to the source's base URL) and a `.` or `..` segment is refused.
 */
function target(resourceUri: string): Target | null {
  const path = resourceUri
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
    .replace(/^\/\/[^/?#]*/, '')
    .replace(/[?#].*$/s, '')
  const m = /\/customers\/([^/]+)\/subscriptions\/([^/]+)\/?$/i.exec(path)
  if (!m?.[1] || !m[2]) return null
  const customerId = segment(m[1])
  const subscriptionId = segment(m[2])
  return customerId && subscriptionId ? { customerId, subscriptionId } : null
}

function segment(raw: string): string | null {
  let s: string
  try {
    s = decodeURIComponent(raw)
  } catch {
    return null
  }
  return s === '.' || s === '..' || /[/\\\p{Cc}]/u.test(s) ? null : s
}

export function partnerCenterEnvelope(payload: unknown): EnvelopeResult {
  const parsed = Notification.safeParse(payload)
  if (!parsed.success) return { ok: false, issues: parsed.error.issues }
  const { EventName, ResourceUri, ResourceChangeUtcDate } = parsed.data
  const objectId = target(ResourceUri)?.subscriptionId ?? null
  return { ok: true, envelope: { type: EventName, occurredAt: new Date(ResourceChangeUtcDate), objectId } }
}

export function partnerCenterFetches(payload: unknown): FetchRequest[] {
  const parsed = Notification.safeParse(payload)
  const t = parsed.success ? target(parsed.data.ResourceUri) : null
  if (!t) return []
  const customer = `/v1/customers/${encodeURIComponent(t.customerId)}`
  return [
    { key: 'subscription', path: `${customer}/subscriptions/${encodeURIComponent(t.subscriptionId)}` },
    { key: 'customer', path: customer },
  ]
}

export function mapPartnerCenter(payload: unknown, ctx: MapContext): MapResult {
  const parsed = Notification.safeParse(payload)
  if (!parsed.success) return fail('not a Partner Center notification', parsed.error.issues)
  if (!target(parsed.data.ResourceUri)) return { ok: true, operations: [] }
  const eventType = parsed.data.EventName
  const customer = Customer.safeParse(ctx.fetched.customer)
  if (!customer.success)
    return fail('the fetched customer is not a Customer', customer.error.issues, ['customer'])
  const sub = Subscription.safeParse(ctx.fetched.subscription)
  if (!sub.success) {
    return fail('the fetched subscription is not a Subscription', sub.error.issues, ['subscription'])
  }
  const version: Version = { sequence: null, occurredAt: ctx.fetchedAt }
  const c = customer.data
  const s = sub.data
  const address = c.billingProfile?.defaultAddress

  const account = AccountState.safeParse({
    id: c.id,
    type: 'customer',
    parent_id: null,
    name: c.companyProfile?.companyName || c.billingProfile?.companyName || c.companyProfile?.domain || c.id,
    number: null,
    email: c.companyProfile?.email || c.billingProfile?.email || null,
    billing_address: address && {
      line1: address.addressLine1,
      line2: address.addressLine2,
      city: address.city,
      state: address.state,
      postal_code: address.postalCode,
      country: address.country,
    },
  } satisfies z.input<typeof AccountState>)
  if (!account.success)
    return fail('the customer does not map to a canonical account', account.error.issues, ['customer'])

  const term = s.termDuration?.trim().toUpperCase()
  const subscription = SubscriptionState.safeParse({
    id: s.id,
    account_id: c.id,
    parent_subscription_id: s.parentSubscriptionId,
    product: { sku: s.offerId, name: s.offerName },
    status: STATUS[s.status.toLowerCase()] ?? s.status,
    // A trial is not billed: the sync records it as ignored until the partner converts it.
    paid: s.isTrial !== true,
    quantity: s.quantity,
    billing_cycle: s.billingCycle ?? 'monthly',
    term: term && TERMS.has(term) ? (term as 'P1M' | 'P1Y' | 'P3Y') : null,
    start_date: s.effectiveStartDate,
    end_date: s.commitmentEndDate,
    activation_date: s.creationDate,
    auto_renew: s.autoRenewEnabled ?? false,
    characteristics: [],
  } satisfies z.input<typeof SubscriptionState>)
  if (!subscription.success) {
    return fail('the subscription does not map to a canonical subscription', subscription.error.issues, [
      'subscription',
    ])
  }
  const operations: Operation[] = [
    { kind: 'account', action: 'upsert', version, eventType, state: account.data },
    { kind: 'subscription', version, eventType, state: subscription.data },
  ]
  return { ok: true, operations }
}

/** Synchronous, and never throws: an unexpected failure is an unmappable payload, not a crashed worker. */
export const partnerCenterMapper = neverThrowing('Partner Center', {
  envelope: partnerCenterEnvelope,
  fetches: partnerCenterFetches,
  map: mapPartnerCenter,
})
