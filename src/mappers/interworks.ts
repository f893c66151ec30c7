import { z } from 'zod'
import { CanonicalEnvelope } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'
import { CalendarDate, type Draft, fail, finish, neverThrowing, Quantity } from './fields.js'
import {
  AccountState,
  type MapResult,
  type SubscriptionState,
  SubscriptionStatus,
  type Version,
} from './operations.js'

/**
 * interworks.cloud BSS, as it calls a Service Manager endpoint. interworks documents each call's
 * fields (developers.interworks.cloud, Service Management implementation guide) but publishes no
 * full JSON sample, so the delivery shape is ours: `{ Action, Timestamp, Sequence?, ...fields }`,
 * where `Action` names the call (`Subscriptions/Create`) and the rest is that call's request body.
 * Every Subscriptions/* call carries the whole subscription (as Subscriptions/Update does), so each
 * maps to full state; the status comes from the call, not from a diff.
 */

const ACTIONS = [
  'Accounts/Synchronize',
  'Subscriptions/Create',
  'Subscriptions/Update',
  'Subscriptions/Suspend',
  'Subscriptions/Activate',
  'Subscriptions/Cancel',
  'Subscriptions/UpgradeToPaid',
  'Addons/Create',
  'Addons/Update',
  'Addons/Cancel',
] as const
type Action = (typeof ACTIONS)[number]

const Id = AccountState.shape.id
const Timestamp = CanonicalEnvelope.shape.occurred_at
const CYCLES: Record<string, SubscriptionState['billing_cycle']> = {
  monthly: 'monthly',
  annual: 'annual',
  annually: 'annual',
  yearly: 'annual',
  triennial: 'triennial',
  onetime: 'one_time',
}
// A cycle the mapper does not know fails the event: billing on a guessed cycle would be wrong.
const BillingCycle = z.string().transform((v, ctx) => {
  const cycle = CYCLES[v.toLowerCase().replace(/[^a-z]/g, '')]
  if (cycle) return cycle
  ctx.addIssue({ code: 'custom', message: 'unknown billing cycle (Monthly, Annually, Triennial, OneTime)' })
  return z.NEVER
})
// The term is informative: one that is not P1M, P1Y or P3Y is dropped, not failed.
const Term = z.string().transform((v) => {
  const term = v.trim().toUpperCase()
  return term === 'P1M' || term === 'P1Y' || term === 'P3Y' ? term : null
})

const Envelope = z.looseObject({
  Action: z.enum(ACTIONS),
  Timestamp,
  Sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  SubscriptionID: Id.optional().catch(undefined),
  Account: z.looseObject({ ID: Id.optional() }).optional().catch(undefined),
})

// Address field names are our choice: interworks lists an account's address without naming them.
const Address = z.looseObject({
  Address1: z.string().nullish(),
  Address2: z.string().nullish(),
  City: z.string().nullish(),
  State: z.string().nullish(),
  PostalCode: z.string().nullish(),
  Country: z.string().nullish(),
})
const Account = z.looseObject({
  ID: Id,
  Name: z.string(),
  Code: z.string().nullish(),
  Email: z.string().nullish(),
  Type: z
    .string()
    .nullish()
    .transform((v) => (v ?? 'customer').trim().toLowerCase())
    .pipe(z.enum(['customer', 'reseller'])),
  ParentID: Id.nullish(),
  BillingAddress: Address.nullish(),
})
// `Code` is the code of a drop-down attribute's chosen value, not the attribute's own: the
// attribute is identified by `ID`, which becomes the characteristic code.
const Attribute = z.looseObject({
  ID: Id,
  Name: z.string().nullish(),
  Value: z.union([z.string(), z.number(), z.boolean()]).nullish(),
  Code: z.string().nullish(),
})
const Terms = {
  BillingCycle: BillingCycle.nullish(),
  Term: Term.nullish(),
  StartDate: CalendarDate.nullish(),
  EndDate: CalendarDate.nullish(),
  AutoRenew: z.boolean().nullish(),
  Status: z.string().nullish(),
  IsTrial: z.boolean().nullish(),
  AttributeList: z.array(Attribute).nullish(),
}
// interworks calls the add-on's own id `ID`; `AddonID` (our envelope's name) wins when both are sent.
const Addon = z
  .looseObject({
    AddonID: Id.optional(),
    ID: Id.optional(),
    ProductID: Id,
    Name: z.string().nullish(),
    Quantity,
    ActionType: z.string().nullish(),
    ...Terms,
  })
  .refine((a) => a.AddonID !== undefined || a.ID !== undefined, { message: 'AddonID is required' })
const Owner = {
  SubscriptionID: Id,
  Account: Account.nullish(),
  AccountID: Id.nullish(),
  Addons: z.array(Addon).nullish(),
}
const AddonCall = z.looseObject({ ...Owner, ...Terms })
const SubscriptionCall = z.looseObject({
  ...Owner,
  ...Terms,
  Name: z.string().nullish(),
  ProductID: Id,
  Quantity,
})
const AccountCall = z.looseObject({ Account })

type Terms = { [K in keyof typeof Terms]?: z.output<(typeof Terms)[K]> }

/** Calls that set every object they carry to one status; the others keep the sent `Status`. */
const CALL_STATUS: Partial<Record<Action, string>> = {
  'Subscriptions/Suspend': 'suspended',
  'Subscriptions/Activate': 'active',
  'Subscriptions/Cancel': 'cancelled',
  'Addons/Cancel': 'cancelled',
}
/** Calls that change every add-on of the subscription, whatever each add-on's ActionType. */
const CASCADES = new Set<Action>([
  'Subscriptions/Suspend',
  'Subscriptions/Activate',
  'Subscriptions/Cancel',
  'Subscriptions/UpgradeToPaid',
])

const callSchema = (action: Action): z.ZodType =>
  action === 'Accounts/Synchronize'
    ? AccountCall
    : action.startsWith('Addons/')
      ? AddonCall
      : SubscriptionCall

/** For Addons/* the object is the subscription the add-ons hang on. */
export function interworksEnvelope(payload: unknown): EnvelopeResult {
  const parsed = Envelope.safeParse(payload)
  if (!parsed.success) return { ok: false, issues: parsed.error.issues }
  const { Action, Timestamp, SubscriptionID, Account } = parsed.data
  // The call's own shape is checked too, so a malformed call is refused before acknowledging.
  const call = callSchema(Action).safeParse(payload)
  if (!call.success) return { ok: false, issues: call.error.issues }
  const objectId = Action === 'Accounts/Synchronize' ? Account?.ID : SubscriptionID
  return { ok: true, envelope: { type: Action, occurredAt: new Date(Timestamp), objectId: objectId ?? null } }
}

export function mapInterworks(payload: unknown): MapResult {
  const envelope = Envelope.safeParse(payload)
  if (!envelope.success) return fail('not an interworks.cloud call', envelope.error.issues)
  const { Action: action, Timestamp, Sequence } = envelope.data
  const version: Version = { sequence: Sequence ?? null, occurredAt: new Date(Timestamp) }

  if (action === 'Accounts/Synchronize') {
    const call = AccountCall.safeParse(payload)
    if (!call.success) return fail(`${action} is missing account fields`, call.error.issues)
    return finish([accountDraft(call.data.Account)], version, action, REASONS)
  }
  // Addons/* leave the subscription itself unchanged (its ActionType is None): only add-ons map.
  let sub: z.output<typeof AddonCall>
  let main: z.output<typeof SubscriptionCall> | null = null
  if (action.startsWith('Addons/')) {
    const call = AddonCall.safeParse(payload)
    if (!call.success) return fail(`${action} is missing subscription fields`, call.error.issues)
    sub = call.data
  } else {
    const call = SubscriptionCall.safeParse(payload)
    if (!call.success) return fail(`${action} is missing subscription fields`, call.error.issues)
    sub = main = call.data
  }
  const accountId = sub.Account?.ID ?? sub.AccountID
  if (!accountId) {
    const details = [{ path: 'Account', message: 'Account or AccountID is required' }]
    return { ok: false, reason: `${action} names no account`, details }
  }

  const drafts: Draft[] = sub.Account ? [accountDraft(sub.Account)] : []
  // UpgradeToPaid is the moment a trial becomes paid; any other call keeps what IsTrial says.
  const paid = action === 'Subscriptions/UpgradeToPaid' || sub.IsTrial !== true
  const forced = CALL_STATUS[action]
  if (main) {
    const status = forced ?? statusOf(main.Status) ?? 'active'
    const core = { id: main.SubscriptionID, sku: main.ProductID, name: main.Name, quantity: main.Quantity }
    const state = subscriptionState(main, { ...core, accountId, parentId: null, status, paid })
    drafts.push({ kind: 'subscription', source: [], state })
  }
  for (const [i, addon] of (sub.Addons ?? []).entries()) {
    const actionType = addon.ActionType?.trim().toLowerCase()
    // An add-on the call leaves unchanged (ActionType None) is skipped, its status being unknown,
    // unless the call changes every add-on.
    if (actionType === 'none' && !addon.Status && !CASCADES.has(action)) continue
    const status = forced ?? statusOf(addon.Status) ?? (actionType === 'deprovision' ? 'cancelled' : 'active')
    // An add-on inherits the subscription's terms it does not state, never its attributes.
    const terms: Terms = {
      BillingCycle: addon.BillingCycle ?? sub.BillingCycle,
      Term: addon.Term ?? sub.Term,
      StartDate: addon.StartDate ?? sub.StartDate,
      EndDate: addon.EndDate ?? sub.EndDate,
      AutoRenew: addon.AutoRenew ?? sub.AutoRenew,
      AttributeList: addon.AttributeList,
    }
    const core = { id: addon.AddonID ?? addon.ID ?? '', sku: addon.ProductID, name: addon.Name }
    const state = subscriptionState(terms, {
      ...core,
      quantity: addon.Quantity,
      accountId,
      parentId: sub.SubscriptionID,
      status,
      paid: paid && addon.IsTrial !== true,
    })
    drafts.push({ kind: 'subscription', source: ['Addons', i], state })
  }
  return finish(drafts, version, action, REASONS)
}

/** interworks statuses are capitalised (`Active`); one the mapper does not know is kept raw. */
function statusOf(raw: string | null | undefined): string | undefined {
  const s = raw?.trim()
  if (!s) return undefined
  const lower = s.toLowerCase() === 'canceled' ? 'cancelled' : s.toLowerCase()
  return (SubscriptionStatus as readonly string[]).includes(lower) ? lower : s
}

type Core = {
  id: string
  accountId: string
  parentId: string | null
  sku: string
  name: string | null | undefined
  quantity: number
  status: string
  paid: boolean
}

function subscriptionState(terms: Terms, core: Core): z.input<typeof SubscriptionState> {
  return {
    id: core.id,
    account_id: core.accountId,
    parent_subscription_id: core.parentId,
    product: { sku: core.sku, name: core.name },
    status: core.status,
    paid: core.paid,
    quantity: core.quantity,
    billing_cycle: terms.BillingCycle ?? 'monthly',
    term: terms.Term,
    start_date: terms.StartDate,
    end_date: terms.EndDate,
    activation_date: terms.StartDate,
    auto_renew: terms.AutoRenew ?? false,
    characteristics: (terms.AttributeList ?? []).map((a) => ({
      code: a.ID,
      name: a.Name,
      value: a.Value ?? null,
    })),
  }
}

function accountDraft(a: z.output<typeof Account>): Draft {
  const address = a.BillingAddress
  return {
    kind: 'account',
    source: ['Account'],
    state: {
      id: a.ID,
      type: a.Type,
      parent_id: a.ParentID,
      name: a.Name,
      number: a.Code,
      email: a.Email,
      billing_address: address && {
        line1: address.Address1,
        line2: address.Address2,
        city: address.City,
        state: address.State,
        postal_code: address.PostalCode,
        country: address.Country,
      },
    },
  }
}

const REASONS = {
  account: 'the account does not map to a canonical account',
  subscription: 'the subscription does not map to a canonical subscription',
}

/** Synchronous, and never throws: an unexpected failure is an unmappable payload, not a crashed worker. */
export const interworksMapper = neverThrowing('interworks.cloud', {
  envelope: interworksEnvelope,
  map: mapInterworks,
})
