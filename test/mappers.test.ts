import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cloudblueConnectMapper as connect } from '../src/mappers/cloudblue-connect.js'
import type { EnvelopeResult } from '../src/mappers/envelope.js'
import { interworksMapper as interworks } from '../src/mappers/interworks.js'
import {
  canonicalStatus,
  type FetchRequest,
  type MapContext,
  type MapResult,
  type Operation,
} from '../src/mappers/operations.js'
import { partnerCenterMapper as pc } from '../src/mappers/partner-center.js'

const fixture = (format: string, name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${format}/${name}`, import.meta.url), 'utf8'))
const iw = (name: string) => fixture('interworks', name)
const cb = (name: string) => fixture('cloudblue-connect', name)
const ms = (name: string) => fixture('partner-center', name)
const clone = <T>(v: T): T => structuredClone(v)

/** The built-in mappers are synchronous (they satisfy `Mapper` without its Promise branch). */
type SyncMapper = {
  envelope(payload: unknown): EnvelopeResult
  fetches?(payload: unknown): FetchRequest[]
  map(payload: unknown, ctx: MapContext): MapResult
}

const fetchedAt = new Date('2030-01-02T03:04:05Z')
const none: MapContext = { fetched: {}, fetchedAt }

function ops(result: MapResult): Operation[] {
  if (!result.ok) throw new Error(`${result.reason}: ${JSON.stringify(result.details)}`)
  return result.operations
}
/** The fields a reader checks, one line per operation. */
function brief(op: Operation) {
  if (op.kind === 'account' && op.action === 'upsert') {
    const { id, type, parent_id } = op.state
    return { account: id, type, parent_id }
  }
  if (op.kind === 'subscription') {
    const s = op.state
    return {
      subscription: s.id,
      account_id: s.account_id,
      parent: s.parent_subscription_id,
      sku: s.product.sku,
      status: s.status,
      paid: s.paid,
      quantity: s.quantity,
      billing_cycle: s.billing_cycle,
    }
  }
  return { closed: op.id }
}
const briefs = (result: MapResult) => ops(result).map(brief)
const failed = (result: MapResult) => {
  expect(result.ok).toBe(false)
  return result.ok ? [] : result.details
}

describe('interworks.cloud', () => {
  const customer = { account: '3001', type: 'customer', parent_id: '2001' }
  const parent = {
    account_id: '3001',
    parent: null,
    sku: 'CFQ7TTC0LDPB:0001',
    paid: true,
    billing_cycle: 'monthly',
  }
  const archiving = {
    subscription: '5101',
    account_id: '3001',
    parent: '5001',
    sku: 'CFQ7TTC0LHSF:0001',
    paid: true,
  }

  it('Accounts/Synchronize upserts a sub-reseller and a customer under it', () => {
    const reseller = ops(interworks.map(iw('accounts-synchronize-reseller.json')))
    expect(reseller).toEqual([
      {
        kind: 'account',
        action: 'upsert',
        eventType: 'Accounts/Synchronize',
        version: { sequence: 1, occurredAt: new Date('2026-11-01T08:00:00Z') },
        state: {
          id: '2001',
          type: 'reseller',
          parent_id: null,
          name: 'Cloud Lite',
          number: 'L-2001',
          email: 'ops@cloudlite.example',
          billing_address: { line1: '1 Main St', city: 'Athens', postal_code: '10431', country: 'GR' },
        },
      },
    ])
    expect(briefs(interworks.map(iw('accounts-synchronize-customer.json')))).toEqual([customer])
    expect(interworks.envelope(iw('accounts-synchronize-customer.json'))).toEqual({
      ok: true,
      envelope: {
        type: 'Accounts/Synchronize',
        occurredAt: new Date('2026-11-01T08:05:00Z'),
        objectId: '3001',
      },
    })
  })

  it('Subscriptions/Create: the account first, then the subscription and its add-on', () => {
    const payload = iw('subscriptions-create.json')
    expect(interworks.envelope(payload)).toEqual({
      ok: true,
      envelope: {
        type: 'Subscriptions/Create',
        occurredAt: new Date('2026-11-01T09:00:00Z'),
        objectId: '5001',
      },
    })
    expect((interworks as SyncMapper).fetches).toBeUndefined()
    const result = ops(interworks.map(payload))
    expect(result.map(brief)).toEqual([
      customer,
      { subscription: '5001', ...parent, status: 'active', quantity: 10 },
      { ...archiving, status: 'active', quantity: 10, billing_cycle: 'monthly' },
    ])
    expect(result[1]).toMatchObject({
      eventType: 'Subscriptions/Create',
      version: { sequence: 1, occurredAt: new Date('2026-11-01T09:00:00Z') },
      state: {
        product: { sku: 'CFQ7TTC0LDPB:0001', name: 'Microsoft 365 Business Standard' },
        term: 'P1Y',
        start_date: '2026-11-01',
        end_date: '2027-10-31',
        activation_date: '2026-11-01',
        auto_renew: true,
        characteristics: [
          { code: 'domain', name: 'Tenant domain', value: 'acme.onmicrosoft.com' },
          { code: 'region', name: 'Data region', value: 'Europe' },
        ],
      },
    })
    // An add-on inherits the subscription's terms, never its attributes.
    expect(result[2]).toMatchObject({ state: { term: 'P1Y', end_date: '2027-10-31', characteristics: [] } })
  })

  it('a trial is paid false until UpgradeToPaid', () => {
    expect(briefs(interworks.map(iw('subscriptions-create-trial.json')))).toEqual([
      customer,
      {
        subscription: '5002',
        ...parent,
        sku: 'CFQ7TTC0LFLX:0002',
        status: 'active',
        paid: false,
        quantity: 25,
      },
    ])
    const upgraded = ops(interworks.map(iw('subscriptions-upgrade-to-paid.json')))
    expect(upgraded.map(brief)).toEqual([
      customer,
      {
        subscription: '5002',
        ...parent,
        sku: 'CFQ7TTC0LFLX:0002',
        status: 'active',
        paid: true,
        quantity: 25,
      },
    ])
    expect(upgraded[1]).toMatchObject({ state: { term: 'P1Y', end_date: '2027-11-14', auto_renew: true } })
  })

  it('Update takes string quantities and skips the add-ons it leaves unchanged', () => {
    expect(briefs(interworks.map(iw('subscriptions-update.json')))).toEqual([
      customer,
      { subscription: '5001', ...parent, status: 'active', quantity: 12 },
      {
        ...archiving,
        subscription: '5102',
        sku: 'CFQ7TTC0LH0R:0001',
        status: 'active',
        quantity: 5,
        billing_cycle: 'monthly',
      },
    ])
  })

  it.each([
    ['subscriptions-suspend.json', 'suspended'],
    ['subscriptions-activate.json', 'active'],
    ['subscriptions-cancel.json', 'cancelled'],
  ])('%s sets the subscription and every add-on %s', (file, status) => {
    expect(briefs(interworks.map(iw(file)))).toEqual([
      customer,
      { subscription: '5001', ...parent, status, quantity: 12 },
      { ...archiving, status, quantity: 10, billing_cycle: 'monthly' },
    ])
  })

  it('Addons/* map only the add-ons the call is about, under SubscriptionID', () => {
    const teams = {
      subscription: '5103',
      account_id: '3001',
      parent: '5001',
      sku: 'CFQ7TTC0LHXL:0001',
      paid: true,
      quantity: 3,
    }
    const created = ops(interworks.map(iw('addons-create.json')))
    expect(created.map(brief)).toEqual([customer, { ...teams, status: 'active', billing_cycle: 'annual' }])
    expect(created[1]).toMatchObject({
      state: {
        start_date: '2026-11-12',
        characteristics: [{ code: 'phone-region', name: 'Calling region', value: 'GR' }],
      },
    })
    expect(briefs(interworks.map(iw('addons-update.json')))).toEqual([
      customer,
      { ...archiving, status: 'active', quantity: 12, billing_cycle: 'monthly' },
    ])
    expect(briefs(interworks.map(iw('addons-cancel.json')))).toEqual([
      customer,
      { ...teams, status: 'cancelled', billing_cycle: 'annual' },
    ])
    expect(interworks.envelope(iw('addons-cancel.json'))).toMatchObject({
      ok: true,
      envelope: { objectId: '5001' },
    })
  })

  it('keeps a status it does not know raw, and never fails on it', () => {
    const payload = clone(iw('subscriptions-update.json')) as Record<string, unknown>
    payload.Status = 'PendingProvisioning'
    const [, sub] = ops(interworks.map(payload))
    expect(sub).toMatchObject({ state: { status: 'PendingProvisioning' } })
    expect(canonicalStatus('PendingProvisioning')).toBe('unknown')
    payload.Status = 'Canceled'
    expect(ops(interworks.map(payload))[1]).toMatchObject({ state: { status: 'cancelled' } })
  })

  it('fails with the path of a bad quantity, billing cycle or missing account', () => {
    const bad = clone(iw('subscriptions-update.json')) as Record<string, unknown> & {
      Addons: { Quantity: unknown }[]
    }
    bad.Quantity = '12.5'
    expect(failed(interworks.map(bad))).toEqual([{ path: 'Quantity', message: expect.any(String) }])
    bad.Quantity = 12
    const addon = bad.Addons[1]
    if (addon) addon.Quantity = 'five'
    expect(failed(interworks.map(bad)).map((d) => d.path)).toEqual(['Addons.1.Quantity'])
    const weekly = { ...(iw('subscriptions-create.json') as object), BillingCycle: 'Weekly' }
    expect(failed(interworks.map(weekly)).map((d) => d.path)).toEqual(['BillingCycle'])
    const orphan = { ...(iw('subscriptions-create.json') as object), Account: undefined }
    expect(failed(interworks.map(orphan)).map((d) => d.path)).toEqual(['Account'])
    const unknownCall = { ...(iw('subscriptions-create.json') as object), Action: 'Subscriptions/Transfer' }
    expect(interworks.envelope(unknownCall).ok).toBe(false)
    expect(failed(interworks.map(unknownCall)).map((d) => d.path)).toEqual(['Action'])
  })
})

describe('CloudBlue Connect', () => {
  const customer = { account: 'TA-0-7304-8514-7000', type: 'customer', parent_id: null }
  const item = {
    subscription: 'AS-392-283-000-0:PRD-276-377-545-0001',
    account_id: 'TA-0-7304-8514-7000',
    parent: null,
    sku: 'CFQ7TTC0LDPB:0001',
    paid: true,
    billing_cycle: 'monthly',
  }

  it('the shared purchase request maps to its customer only (item at "0")', () => {
    const payload = cb('purchase-request.json')
    expect(connect.envelope(payload)).toEqual({
      ok: true,
      envelope: {
        type: 'purchase',
        occurredAt: new Date('2019-02-19T19:28:11.053922+00:00'),
        objectId: 'PR-5852-1608-0000',
      },
    })
    expect(connect.fetches?.(payload)).toEqual([])
    expect(ops(connect.map(payload, none))).toEqual([
      {
        kind: 'account',
        action: 'upsert',
        eventType: 'purchase',
        version: { sequence: null, occurredAt: new Date('2019-02-19T19:28:11.053922+00:00') },
        state: {
          id: 'TA-0-7304-8514-7000',
          type: 'customer',
          parent_id: null,
          name: 'Name',
          number: '1001000',
          email: 'test@email.com',
          billing_address: {
            line1: 'street A',
            line2: '2 2',
            city: 'Moscow',
            state: null,
            postal_code: '08000',
            country: 'es',
          },
        },
      },
    ])
  })

  it('a change takes the string quantity "12", with params as characteristics', () => {
    const result = ops(connect.map(cb('change-request.json'), none))
    expect(result.map(brief)).toEqual([customer, { ...item, status: 'active', quantity: 12 }])
    expect(result[1]).toMatchObject({
      eventType: 'change',
      version: { sequence: null, occurredAt: new Date('2019-03-01T10:00:00Z') },
      state: {
        product: { sku: 'CFQ7TTC0LDPB:0001', name: 'ProductName' },
        term: null,
        characteristics: [{ code: 'activationCode', name: 'Activation Code', value: 'value param' }],
      },
    })
  })

  it.each([
    ['suspend-request.json', 'suspended', 12],
    ['resume-request.json', 'active', 12],
    ['cancel-request.json', 'cancelled', 0],
  ])('%s leaves the item %s at quantity %i', (file, status, quantity) => {
    expect(briefs(connect.map(cb(file), none))).toEqual([customer, { ...item, status, quantity }])
  })

  it('an adjustment maps every live item, the sku falling back to the item id', () => {
    expect(briefs(connect.map(cb('adjustment-request.json'), none))).toEqual([
      customer,
      { ...item, status: 'active', quantity: 11 },
      {
        ...item,
        subscription: 'AS-392-283-000-0:PRD-276-377-545-0002',
        sku: 'PRD-276-377-545-0002',
        status: 'active',
        quantity: 2,
        billing_cycle: 'annual',
      },
    ])
  })

  it('a tier2 chain: the sub-reseller first, the customer under it; tier1 is never emitted', () => {
    const result = ops(connect.map(cb('tier2-purchase-request.json'), none))
    expect(result.map(brief)).toEqual([
      { account: 'TA-0-7042-5000-3500', type: 'reseller', parent_id: null },
      { ...customer, parent_id: 'TA-0-7042-5000-3500' },
      { ...item, status: 'active', quantity: 5, billing_cycle: 'annual' },
    ])
    expect(result[0]).toMatchObject({ state: { name: 'Lite Reseller', email: 'lite@reseller.example' } })
    expect(JSON.stringify(result)).not.toContain('TA-0-7042-5000-3000')
  })

  it('a request that is not approved changes nothing', () => {
    expect(connect.envelope(cb('pending-request.json'))).toMatchObject({
      ok: true,
      envelope: { type: 'purchase' },
    })
    expect(connect.map(cb('pending-request.json'), none)).toEqual({ ok: true, operations: [] })
  })

  it('the thin form fetches the request and versions it at fetchedAt', () => {
    const thin = cb('notification.json')
    expect(connect.envelope(thin)).toEqual({
      ok: true,
      envelope: { type: 'request-notification', occurredAt: null, objectId: 'PR-5852-1608-0001' },
    })
    expect(connect.fetches?.(thin)).toEqual([
      { key: 'request', path: '/public/v1/requests/PR-5852-1608-0001' },
    ])
    expect(connect.fetches?.({ request_id: 'PR-5852-1608-0001' })).toEqual(connect.fetches?.(thin))
    const result = ops(connect.map(thin, { fetched: { request: cb('change-request.json') }, fetchedAt }))
    expect(result.map(brief)).toEqual([customer, { ...item, status: 'active', quantity: 12 }])
    expect(result.every((op) => op.version.occurredAt === fetchedAt && op.version.sequence === null)).toBe(
      true,
    )
    expect(failed(connect.map(thin, none)).map((d) => d.path)).toContain('request')
    const other = connect.map(thin, { fetched: { request: cb('suspend-request.json') }, fetchedAt })
    expect(failed(other)).toEqual([{ path: 'request.id', message: expect.any(String) }])
  })

  it('refuses a thin id that is not a request id, and fetches nothing for it', () => {
    for (const id of ['../../admin', 'PR-1/../../x', 'PR-12?x=1', '']) {
      expect(connect.envelope({ id }).ok).toBe(false)
      expect(connect.fetches?.({ id })).toEqual([])
      expect(connect.map({ id }, none).ok).toBe(false)
    }
  })

  it('fails with the path of a non-integer quantity and an unknown period', () => {
    const bad = clone(cb('change-request.json')) as { asset: { items: Record<string, unknown>[] } }
    const second = bad.asset.items[1]
    if (second) second.quantity = '12.5'
    expect(failed(connect.map(bad, none)).map((d) => d.path)).toEqual(['asset.items.1.quantity'])
    if (second) Object.assign(second, { quantity: '12', period: 'years_2' })
    expect(failed(connect.map(bad, none)).map((d) => d.path)).toEqual(['asset.items.1.period'])
    expect(failed(connect.map([bad], none)).map((d) => d.path)).toEqual(['0.asset.items.1.period'])
  })

  it('an array must hold exactly one request', () => {
    const one = cb('purchase-request.json') as unknown[]
    for (const payload of [[], [...one, ...one]]) {
      expect(connect.envelope(payload).ok).toBe(false)
      expect(failed(connect.map(payload, none))).toEqual([
        { path: '(root)', message: expect.stringMatching(/exactly one/) },
      ])
    }
  })
})

describe('Partner Center', () => {
  const cid = '4d3cf487-70f4-4e1e-9ff1-b2bfce8d9f04'
  const sid = '1C2B75C1-74A5-472A-A729-7F8CEFC477F9'
  const notification = ms('subscription-updated-real-ids.json')
  const fetched = (subscription: string): MapContext => ({
    fetched: { subscription: ms(subscription), customer: ms('customer.json') },
    fetchedAt,
  })
  const customer = { account: cid, type: 'customer', parent_id: null }
  const base = {
    subscription: sid,
    account_id: cid,
    parent: null,
    sku: 'CFQ7TTC0LDPB:0001:CFQ7TTC0LDPB:0001',
    paid: true,
    quantity: 10,
    billing_cycle: 'monthly',
  }

  it('the placeholders of the shared notification still give /v1 paths', () => {
    const payload = ms('subscription-updated-notification.json')
    expect(pc.envelope(payload)).toEqual({
      ok: true,
      envelope: {
        type: 'subscription-updated',
        occurredAt: new Date('2017-11-16T16:19:06.352Z'),
        objectId: '{{SubscriptionId}}',
      },
    })
    expect(pc.fetches?.(payload)).toEqual([
      {
        key: 'subscription',
        path: '/v1/customers/%7B%7BCustomerId%7D%7D/subscriptions/%7B%7BSubscriptionId%7D%7D',
      },
      { key: 'customer', path: '/v1/customers/%7B%7BCustomerId%7D%7D' },
    ])
  })

  it('fetches the subscription and its customer, then maps the customer first', () => {
    expect(pc.fetches?.(notification)).toEqual([
      { key: 'subscription', path: `/v1/customers/${cid}/subscriptions/${sid}` },
      { key: 'customer', path: `/v1/customers/${cid}` },
    ])
    expect(ops(pc.map(notification, fetched('subscription.json')))).toEqual([
      {
        kind: 'account',
        action: 'upsert',
        eventType: 'subscription-updated',
        version: { sequence: null, occurredAt: fetchedAt },
        state: {
          id: cid,
          type: 'customer',
          parent_id: null,
          name: 'Contoso Ltd',
          number: null,
          email: 'admin@contoso.example',
          billing_address: {
            line1: 'One Microsoft Way',
            line2: undefined,
            city: 'Redmond',
            state: 'WA',
            postal_code: '98052',
            country: 'US',
          },
        },
      },
      {
        kind: 'subscription',
        eventType: 'subscription-updated',
        version: { sequence: null, occurredAt: fetchedAt },
        state: {
          id: sid,
          account_id: cid,
          parent_subscription_id: null,
          product: { sku: 'CFQ7TTC0LDPB:0001:CFQ7TTC0LDPB:0001', name: 'Microsoft 365 Business Standard' },
          status: 'active',
          paid: true,
          quantity: 10,
          billing_cycle: 'monthly',
          term: 'P1Y',
          start_date: '2026-11-01',
          end_date: '2027-10-31',
          activation_date: '2026-11-01',
          auto_renew: true,
          characteristics: [],
        },
      },
    ])
  })

  it('an add-on carries its parent subscription', () => {
    const [, addon] = ops(pc.map(notification, fetched('addon-subscription.json')))
    expect(addon && brief(addon)).toEqual({
      ...base,
      subscription: '968BA1CF-C146-4ADF-A300-308DCF718EEE',
      parent: sid,
      sku: '2828BE95-46BA-4F91-B2FD-0BEF192ECF60',
      status: 'active',
      quantity: 2,
    })
    expect(addon).toMatchObject({ state: { term: null, start_date: '2017-01-25', end_date: '2018-02-10' } })
  })

  it.each([
    [
      'trial-subscription.json',
      { subscription: '5B0C3C5E-8D3A-4C2B-9F3A-1E0C1B2A3D4E', paid: false, quantity: 25 },
    ],
    ['deleted-subscription.json', { status: 'cancelled' }],
    ['none-status-subscription.json', { status: 'none' }],
    ['unknown-status-subscription.json', { status: 'transferring', billing_cycle: 'annual' }],
  ])('%s', (file, expected) => {
    const [account, sub] = ops(pc.map(notification, fetched(file)))
    expect(account && brief(account)).toEqual(customer)
    expect(sub && brief(sub)).toEqual({ ...base, status: 'active', ...expected })
  })

  it('keeps none and unknown statuses raw (read as unknown) and maps disabled to expired', () => {
    expect(canonicalStatus('none')).toBe('unknown')
    expect(canonicalStatus('transferring')).toBe('unknown')
    const disabled = { ...(ms('subscription.json') as object), status: 'disabled', termDuration: 'P1D' }
    const [, sub] = ops(
      pc.map(notification, { fetched: { subscription: disabled, customer: ms('customer.json') }, fetchedAt }),
    )
    expect(sub).toMatchObject({ state: { status: 'expired', term: null } })
  })

  it('a resource that is not a subscription fetches nothing and maps to nothing', () => {
    const created = ms('customer-created-notification.json')
    expect(pc.envelope(created)).toMatchObject({
      ok: true,
      envelope: { type: 'customer-created', objectId: null },
    })
    expect(pc.fetches?.(created)).toEqual([])
    expect(pc.map(created, none)).toEqual({ ok: true, operations: [] })
  })

  it('a hostile ResourceUri never leaves /v1/customers/...', () => {
    const uris = [
      'https://evil.example/customers/abc/subscriptions/def',
      '//evil.example/v1/customers/abc/subscriptions/def',
      'https://api.partnercenter.microsoft.com/v1/customers/abc/subscriptions/def?next=https://evil.example/x',
      'https://evil.example/customers/a%2F..%2F..%2Fadmin/subscriptions/def',
      'https://evil.example/v1/customers/../subscriptions/def',
      'https://evil.example/v1/customers/%2e%2e/subscriptions/def',
      'https://evil.example/v1/customers/abc/subscriptions/..',
      'https://evil.example/v1/customers/abc\\..\\x/subscriptions/def',
      'javascript:alert(1)',
    ]
    for (const ResourceUri of uris) {
      const fetches = pc.fetches?.({ ...(notification as object), ResourceUri }) ?? []
      for (const f of fetches) {
        expect(f.path).toMatch(/^\/v1\/customers\/[A-Za-z0-9%-]+(\/subscriptions\/[A-Za-z0-9%-]+)?$/)
        expect(f.path).not.toContain('evil')
      }
    }
    const evil = pc.fetches?.({ ...(notification as object), ResourceUri: uris[0] })
    expect(evil?.map((f) => f.path)).toEqual(['/v1/customers/abc/subscriptions/def', '/v1/customers/abc'])
    const dotted = pc.fetches?.({ ...(notification as object), ResourceUri: uris[4] })
    expect(dotted).toEqual([])
  })

  it('fails when a fetched resource is missing or malformed, with its path', () => {
    expect(failed(pc.map(notification, none)).map((d) => d.path)).toEqual(['customer'])
    const noQty = { ...(ms('subscription.json') as object), quantity: '1.5' }
    const bad = pc.map(notification, {
      fetched: { subscription: noQty, customer: ms('customer.json') },
      fetchedAt,
    })
    expect(failed(bad).map((d) => d.path)).toEqual(['subscription.quantity'])
    const weekly = { ...(ms('subscription.json') as object), billingCycle: 'weekly' }
    const cycle = pc.map(notification, {
      fetched: { subscription: weekly, customer: ms('customer.json') },
      fetchedAt,
    })
    expect(failed(cycle).map((d) => d.path)).toEqual(['subscription.billingCycle'])
  })
})

// The copies keep the content of the shared recorded payloads (Biome only reindents them).
const SHARED = '/work/shared/fixtures'
describe.runIf(existsSync(SHARED))('copied fixtures', () => {
  it.each([
    'cloudblue-connect/purchase-request.json',
    'partner-center/subscription-updated-notification.json',
    'partner-center/addon-subscription.json',
  ])('%s equals the shared payload', (path) => {
    const [format = '', name = ''] = path.split('/')
    expect(fixture(format, name)).toEqual(JSON.parse(readFileSync(`${SHARED}/${path}`, 'utf8')))
  })
})

describe('envelope accepts what map handles', () => {
  const formats: [string, SyncMapper, MapContext][] = [
    ['interworks', interworks, none],
    ['cloudblue-connect', connect, { fetched: { request: cb('change-request.json') }, fetchedAt }],
    ['partner-center', pc, none],
  ]
  it.each(formats)('every %s fixture that maps passes its envelope', (format, mapper, ctx) => {
    const dir = new URL(`./fixtures/${format}/`, import.meta.url)
    const names = readdirSync(dir).filter((n) => n.endsWith('.json'))
    expect(names.length).toBeGreaterThanOrEqual(8)
    for (const name of names) {
      const payload = fixture(format, name)
      if (mapper.map(payload, ctx).ok) expect(mapper.envelope(payload), name).toMatchObject({ ok: true })
    }
  })
})

describe('garbage never throws', () => {
  const throwing = new Proxy(
    {},
    {
      get() {
        throw new Error('boom')
      },
      has() {
        throw new Error('boom')
      },
      ownKeys() {
        throw new Error('boom')
      },
    },
  )
  let deep: unknown = 'x'
  for (let i = 0; i < 5000; i++) deep = { asset: deep, Action: deep, EventName: deep }
  const garbage: unknown[] = [
    null,
    undefined,
    [],
    [null],
    0,
    42,
    Number.NaN,
    '',
    'PR-1',
    true,
    {},
    { Action: 42, Timestamp: [] },
    { Action: 'Subscriptions/Create', Timestamp: 'yesterday' },
    { Action: 'Subscriptions/Create', Timestamp: '2026-11-01T09:00:00Z', Quantity: { n: 1 }, Account: 'x' },
    { EventName: [], ResourceUri: 7, ResourceChangeUtcDate: null },
    { id: 5, type: [], status: {}, asset: 'x' },
    [
      {
        id: 'PR-1',
        type: 'purchase',
        status: 'approved',
        created: '2019-01-01T00:00:00Z',
        asset: { tiers: 1 },
      },
    ],
    deep,
    throwing,
  ]
  const mappers: [string, SyncMapper][] = [
    ['interworks', interworks],
    ['cloudblue-connect', connect],
    ['partner-center', pc],
  ]

  it.each(mappers)('%s rejects every garbage payload without throwing', (_, mapper) => {
    for (const payload of garbage) {
      expect(mapper.envelope(payload).ok).toBe(false)
      const result = mapper.map(payload, none)
      expect(result.ok).toBe(false)
      if (!result.ok) expect(result.details.length).toBeGreaterThan(0)
      expect(Array.isArray(mapper.fetches?.(payload) ?? [])).toBe(true)
      expect(
        mapper.map(payload, {
          fetched: { request: payload, subscription: payload, customer: payload },
          fetchedAt,
        }).ok,
      ).toBe(false)
    }
  })
})
