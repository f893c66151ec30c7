import { z } from 'zod'
import { CanonicalEnvelope } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'
import { type Draft, fail, finish, neverThrowing, prefixed, Quantity } from './fields.js'
import {
  AccountState,
  type FetchRequest,
  type MapContext,
  type MapResult,
  type SubscriptionState,
  type Version,
} from './operations.js'

/**
 * CloudBlue Connect fulfillment requests (`/public/v1/requests`), in two forms:
 * - full: the request object (as the API returns it; a one-element array is accepted too, as the
 *   connect-python-sdk's recorded response holds one);
 * - thin: a webhook call. Connect webhooks only trigger a handler, with a body configured on the
 *   webhook, so tiersync expects that body to name the request: `{ "id": "PR-..." }` or
 *   `{ "request_id": "PR-..." }`. The request is then fetched and mapped with `ctx.fetchedAt`.
 * A request changes nothing until it is `approved`: any other status maps to no operations.
 */

const Id = AccountState.shape.id
const Timestamp = CanonicalEnvelope.shape.occurred_at
const RequestId = z.string().regex(/^PR-[0-9-]+$/, 'must be a Connect request id (PR-...)')
const PERIODS: Record<string, SubscriptionState['billing_cycle']> = {
  monthly: 'monthly',
  yearly: 'annual',
  onetime: 'one_time',
  one_time: 'one_time',
  years_3: 'triennial',
  triennial: 'triennial',
}
// No period means monthly; one the mapper does not know (years_2, ...) fails the event rather
// than bill on a guessed cycle.
const Period = z.string().transform((v, ctx) => {
  const cycle = PERIODS[v.trim().toLowerCase()]
  if (cycle) return cycle
  ctx.addIssue({ code: 'custom', message: 'unknown period (monthly, yearly, onetime, years_3)' })
  return z.NEVER
})
// Structured param values are kept as their JSON text.
const ParamValue = z
  .unknown()
  .transform((v) =>
    v === undefined || v === null || typeof v !== 'object' ? (v ?? null) : JSON.stringify(v),
  )
  .pipe(z.union([z.string(), z.number(), z.boolean(), z.null()]))

const Header = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  status: z.string().min(1),
  created: Timestamp,
  updated: Timestamp.nullish(),
})
const Notification = z
  .looseObject({ id: RequestId.optional(), request_id: RequestId.optional() })
  .transform((n, ctx) => {
    const id = n.request_id ?? n.id
    if (id && (!n.id || !n.request_id || n.id === n.request_id)) return id
    ctx.addIssue({
      code: 'custom',
      path: ['request_id'],
      message: 'one request id is required (id or request_id)',
    })
    return z.NEVER
  })

const ContactInfo = z.looseObject({
  address_line1: z.string().nullish(),
  address_line2: z.string().nullish(),
  city: z.string().nullish(),
  state: z.string().nullish(),
  postal_code: z.string().nullish(),
  country: z.string().nullish(),
  contact: z.looseObject({ email: z.string().nullish() }).nullish(),
})
const Tier = z.looseObject({
  id: Id,
  name: z.string(),
  external_id: z.union([z.string(), z.number()]).nullish(),
  contact_info: ContactInfo.nullish(),
})
const Item = z.looseObject({
  id: Id,
  mpn: z.string().nullish(),
  quantity: Quantity,
  old_quantity: Quantity.nullish(),
  period: Period.nullish(),
})
const Param = z.looseObject({ id: z.string().min(1), name: z.string().nullish(), value: ParamValue })
const Approved = z.looseObject({
  asset: z.looseObject({
    id: Id,
    product: z.looseObject({ id: Id, name: z.string().nullish() }),
    items: z.array(Item).default([]),
    params: z.array(Param).default([]),
    tiers: z.looseObject({ customer: Tier, tier1: Tier.nullish(), tier2: Tier.nullish() }),
  }),
})

/** What each request type leaves the asset in; a type the mapper does not know is kept raw. */
const STATUS_BY_TYPE: Record<string, string> = {
  purchase: 'active',
  change: 'active',
  resume: 'active',
  adjustment: 'active',
  suspend: 'suspended',
  cancel: 'cancelled',
}

type Unwrapped =
  | { ok: true; request: unknown; prefix: PropertyKey[] }
  | { ok: false; issues: z.core.$ZodIssue[] }

/** The single request of a delivery: the object itself, or the only element of an array. */
function unwrap(payload: unknown): Unwrapped {
  if (!Array.isArray(payload)) return { ok: true, request: payload, prefix: [] }
  const one = z.array(z.unknown()).length(1, 'a delivery must carry exactly one request').safeParse(payload)
  return one.success
    ? { ok: true, request: one.data[0], prefix: [0] }
    : { ok: false, issues: one.error.issues }
}

/** A webhook body names a request; a request object always has its type, status and asset. */
const isThin = (p: unknown) =>
  typeof p === 'object' && p !== null && !Array.isArray(p) && !('asset' in p || 'type' in p || 'status' in p)

export function connectEnvelope(payload: unknown): EnvelopeResult {
  if (isThin(payload)) {
    const thin = Notification.safeParse(payload)
    if (!thin.success) return { ok: false, issues: thin.error.issues }
    return { ok: true, envelope: { type: 'request-notification', occurredAt: null, objectId: thin.data } }
  }
  const one = unwrap(payload)
  if (!one.ok) return one
  const header = Header.safeParse(one.request)
  if (!header.success) return { ok: false, issues: prefixed(header.error.issues, one.prefix) }
  const { id, type, status, created, updated } = header.data
  // An approved request must be mappable: its asset is checked before acknowledging.
  const approved = status === 'approved' ? Approved.safeParse(one.request) : null
  if (approved && !approved.success) return { ok: false, issues: prefixed(approved.error.issues, one.prefix) }
  return { ok: true, envelope: { type, occurredAt: new Date(updated ?? created), objectId: id } }
}

export function connectFetches(payload: unknown): FetchRequest[] {
  const thin = isThin(payload) ? Notification.safeParse(payload) : null
  if (!thin?.success) return []
  return [{ key: 'request', path: `/public/v1/requests/${encodeURIComponent(thin.data)}` }]
}

export function mapConnect(payload: unknown, ctx: MapContext): MapResult {
  if (isThin(payload)) {
    const thin = Notification.safeParse(payload)
    if (!thin.success) return fail('not a Connect request notification', thin.error.issues)
    const id = thin.data
    const fetched = ctx.fetched.request
    const header = Header.safeParse(fetched)
    if (!header.success)
      return fail('the fetched request is not a Connect request', header.error.issues, ['request'])
    if (header.data.id !== id) {
      const details = [{ path: 'request.id', message: `expected ${id}, the request notified` }]
      return { ok: false, reason: 'the fetched request is not the one notified', details }
    }
    return mapRequest(fetched, header.data, ['request'], { sequence: null, occurredAt: ctx.fetchedAt })
  }
  const one = unwrap(payload)
  if (!one.ok) return fail('not a Connect request', one.issues)
  const header = Header.safeParse(one.request)
  if (!header.success) return fail('not a Connect request', header.error.issues, one.prefix)
  const { created, updated } = header.data
  return mapRequest(one.request, header.data, one.prefix, {
    sequence: null,
    occurredAt: new Date(updated ?? created),
  })
}

function mapRequest(
  request: unknown,
  header: z.output<typeof Header>,
  prefix: PropertyKey[],
  version: Version,
): MapResult {
  if (header.status !== 'approved') return { ok: true, operations: [] }
  const parsed = Approved.safeParse(request)
  if (!parsed.success)
    return fail(`approved ${header.type} request is missing asset fields`, parsed.error.issues, prefix)
  const { asset } = parsed.data
  const { customer, tier2 } = asset.tiers
  const at = (...path: PropertyKey[]) => [...prefix, 'asset', ...path]

  // tier1 is the source's own tenant reseller: not mirrored. tier2 is a sub-reseller under it.
  const drafts: Draft[] = []
  if (tier2) drafts.push(tierDraft(tier2, 'reseller', null, at('tiers', 'tier2')))
  drafts.push(tierDraft(customer, 'customer', tier2?.id ?? null, at('tiers', 'customer')))

  const status = STATUS_BY_TYPE[header.type] ?? header.type
  const characteristics = asset.params.map((p) => ({ code: p.id, name: p.name, value: p.value }))
  for (const [i, item] of asset.items.entries()) {
    // An item never ordered (0, and 0 or nothing before) is not a subscription; one going to 0 is.
    if (item.quantity === 0 && (item.old_quantity ?? 0) === 0) continue
    drafts.push({
      kind: 'subscription',
      source: at('items', i),
      state: {
        id: `${asset.id}:${item.id}`,
        account_id: customer.id,
        parent_subscription_id: null,
        product: { sku: item.mpn || item.id, name: asset.product.name },
        status,
        // Connect requests carry no trial flag: an approved request is a paid subscription.
        paid: true,
        quantity: item.quantity,
        billing_cycle: item.period ?? 'monthly',
        // An item's period is how it is billed, not a commitment: the term is not guessed from it.
        term: null,
        characteristics,
      },
    })
  }
  return finish(drafts, version, header.type, REASONS)
}

function tierDraft(
  tier: z.output<typeof Tier>,
  type: 'reseller' | 'customer',
  parentId: string | null,
  source: PropertyKey[],
): Draft {
  const info = tier.contact_info
  const blank = (v: string | null | undefined) => (v?.trim() ? v : null)
  return {
    kind: 'account',
    source,
    state: {
      id: tier.id,
      type,
      parent_id: parentId,
      name: tier.name,
      // The tier's id in the reseller's own system, which is its account number there.
      number: tier.external_id === null || tier.external_id === undefined ? null : String(tier.external_id),
      email: blank(info?.contact?.email),
      billing_address: info && {
        line1: blank(info.address_line1),
        line2: blank(info.address_line2),
        city: blank(info.city),
        state: blank(info.state),
        postal_code: blank(info.postal_code),
        country: blank(info.country),
      },
    },
  }
}

const REASONS = {
  account: 'the tier does not map to a canonical account',
  subscription: 'the item does not map to a canonical subscription',
}

/** Synchronous, and never throws: an unexpected failure is an unmappable payload, not a crashed worker. */
export const cloudblueConnectMapper = neverThrowing('Connect', {
  envelope: connectEnvelope,
  fetches: connectFetches,
  map: mapConnect,
})
