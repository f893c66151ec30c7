import { beforeAll, describe, expect, it } from 'vitest'
import type { Role } from '../src/auth/api-keys.js'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'
import { apiClient, detailPaths, type RouteCase, rolesBelow } from './helpers/matrix.js'
import {
  account,
  type CanonicalEvent,
  type Sender,
  sender,
  settled,
  subscription,
} from './helpers/reseller.js'
import { eventually, startTestBillingWorker, startTestWorker } from './helpers/worker.js'

/**
 * The admin API end to end: every /v1 route (webhooks aside) with its auth rules, its happy path
 * on data that came in through the API and signed webhooks, and its main error answers.
 */
const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
startTestWorker(t)
startTestBillingWorker(t)
const keys: Record<Role, string> = {
  admin: t.adminKey,
  billing: await t.keyFor('billing'),
  viewer: await t.keyFor('viewer'),
}
const { call, ok, fails, allPages } = apiClient(t, keys)
const MISSING = '00000000-0000-4000-8000-000000000000'
const NO_EVENT = '999999999999'
const GARBAGE_KEY = 'tsk_thisIsNotAKeyThisIsNotAKeyThisIsNotAKey1234'

type Data<T> = { data: T }
type List<T = { id: string }> = { data: T[]; next_cursor?: string }
type Account = {
  id: string
  type: string
  source_id: string | null
  external_id: string | null
  name: string
  notes: string | null
  tags: string[]
  custom_attributes: Record<string, unknown>
}
type Subscription = { id: string; external_id: string; account_id: string; sku: string; status: string }
type History = { event_type: string; changes: Record<string, { before: unknown; after: unknown }> }
type Event = { id: string; source_id: string; event_type: string; object_id: string | null; status: string }
type Run = {
  id: string
  period: string
  source_id: string | null
  dry_run: boolean
  status: string
  error: string | null
  report: { errors: unknown[]; invoices: { invoice_id: string }[] }
}
type Invoice = {
  id: string
  tenant_id: string
  period: string
  currency: string
  status: string
  number: string | null
  total: string
}
type Line = { id: string; charge_type: string; amount: string; subscription_external_id: string }

// --- Data, as a distributor gets it: prices through the price book, resellers through webhooks. ---

for (const [sku, unit_price] of [
  ['M365', '12.00'],
  ['E5', '30.00'],
]) {
  await ok(
    call('POST', '/v1/price-book/prices', {
      key: keys.billing,
      body: {
        sku,
        billing_cycle: 'monthly',
        term: null,
        currency: 'EUR',
        unit_price,
        effective_from: '2020-01-01',
      },
    }),
    201,
  )
}
const reseller = (name: string, number: string) => ({
  name,
  number,
  email: `billing@${number.toLowerCase()}.example`,
  tier: 'basic',
  currency: 'EUR',
})
const alpha = await createSourceViaApi(t, { name: 'Alpha BSS', reseller: reseller('Alpha Resell', 'R-A') })
const beta = await createSourceViaApi(t, { name: 'Beta BSS', reseller: reseller('Beta Resell', 'R-B') })
const gamma = await createSourceViaApi(t, { name: 'Gamma BSS', reseller: reseller('Gamma Resell', 'R-C') })
const [a, b, c] = [sender(t, alpha), sender(t, beta), sender(t, gamma)]
const product = (sku: string) => ({ product: { sku, name: `Product ${sku}` }, term: 'P1M' })

/** One round of deliveries, all accepted, then applied by the worker. */
async function deliver(round: [Sender, CanonicalEvent][]): Promise<void> {
  for (const [bss, event] of round) expect((await bss.send(event)).status).toBe(202)
  await settled(t)
}
// Parents settle before their children: a child that arrives first would wait, and waiting counts as settled.
await deliver([
  [a, account('res-1', { type: 'reseller', name: 'Alpha Sub-reseller' })],
  [b, account('cust-1', { name: 'Beta Customer' })],
  [c, account('cust-1', { name: 'Gamma Customer' })],
])
await deliver([
  [a, account('cust-1', { parent_id: 'res-1', name: 'Acme Ltd' })],
  [a, account('cust-2', { name: 'Bolt GmbH' })],
  [a, account('cust-3', { name: 'Cirrus SA' })],
  [a, account('cust-4', { name: 'Delta SRL' })],
  [b, subscription('sub-1', 'cust-1', product('M365'))],
  [c, subscription('sub-1', 'cust-1', product('E5'))],
])
await deliver([
  [a, subscription('sub-1', 'cust-1', product('M365'), { seq: 1 })],
  [a, subscription('sub-2', 'cust-2', { ...product('M365'), quantity: 3 })],
  [a, subscription('sub-3', 'cust-3', { ...product('E5'), status: 'suspended' })],
  [a, subscription('sub-4', 'cust-4', product('E5'))],
])
await deliver([
  [
    a,
    subscription(
      'sub-1',
      'cust-1',
      { ...product('M365'), quantity: 15 },
      { seq: 2, type: 'subscription.updated', at: '2026-11-05T10:00:00Z' },
    ),
  ],
  // Unmappable: fails at once, so the events API has a failed event to show and replay.
  [a, subscription('bad-1', 'cust-1', { quantity: -5 })],
])
/** Alpha's 11 deliveries: 5 accounts, 4 subscriptions, 1 update, 1 failure. */
const ALPHA_EVENTS = 11

async function accountOf(source: { id: string }, externalId: string): Promise<Account> {
  const list = await ok<List<Account>>(
    call('GET', `/v1/accounts?source_id=${source.id}&external_id=${externalId}`, { key: keys.viewer }),
  )
  expect(list.data).toHaveLength(1)
  return list.data[0] as Account
}
async function subscriptionOf(source: { id: string }, externalId: string): Promise<Subscription> {
  const list = await ok<List<Subscription>>(
    call('GET', `/v1/subscriptions?source_id=${source.id}&external_id=${externalId}`, { key: keys.viewer }),
  )
  expect(list.data).toHaveLength(1)
  return list.data[0] as Subscription
}
const acme = await accountOf(alpha, 'cust-1')
const subReseller = await accountOf(alpha, 'res-1')
const bolt = await accountOf(alpha, 'cust-2')

// --- 1. Auth: every route, table-driven. ---

/** Ids that exist nowhere: the auth check comes first, and a role that passes it gets 404, not a write. */
const ROUTES: RouteCase[] = [
  { method: 'GET', path: '/v1/api-keys', need: 'admin' },
  { method: 'POST', path: '/v1/api-keys', need: 'admin', body: { name: 'matrix', role: 'viewer' } },
  { method: 'DELETE', path: `/v1/api-keys/${MISSING}`, need: 'admin' },

  { method: 'GET', path: '/v1/sources', need: 'viewer' },
  { method: 'GET', path: `/v1/sources/${MISSING}`, need: 'viewer' },
  {
    method: 'POST',
    path: '/v1/sources',
    need: 'admin',
    body: { name: 'Matrix BSS', format: 'canonical', reseller: reseller('Matrix Resell', 'R-M') },
  },
  { method: 'PATCH', path: `/v1/sources/${MISSING}`, need: 'admin', body: { name: 'renamed' } },
  { method: 'POST', path: `/v1/sources/${MISSING}/secrets/rotate`, need: 'admin', body: {} },
  { method: 'PUT', path: `/v1/sources/${MISSING}/mapping`, need: 'admin', body: { expression: '{}' } },
  { method: 'POST', path: `/v1/sources/${MISSING}/mapping/preview`, need: 'admin', body: { payload: {} } },
  { method: 'POST', path: `/v1/sources/${MISSING}/reconcile`, need: 'admin' },
  { method: 'POST', path: `/v1/sources/${MISSING}/disable`, need: 'admin' },
  { method: 'POST', path: `/v1/sources/${MISSING}/enable`, need: 'admin' },

  { method: 'GET', path: '/v1/accounts', need: 'viewer' },
  { method: 'GET', path: `/v1/accounts/${MISSING}`, need: 'viewer' },
  { method: 'GET', path: `/v1/accounts/${MISSING}/tree`, need: 'viewer' },
  { method: 'PATCH', path: `/v1/accounts/${MISSING}`, need: 'admin', body: { notes: 'x' } },

  { method: 'GET', path: `/v1/accounts/${MISSING}/contacts`, need: 'viewer' },
  { method: 'POST', path: `/v1/accounts/${MISSING}/contacts`, need: 'admin', body: { name: 'X' } },
  { method: 'GET', path: `/v1/contacts/${MISSING}`, need: 'viewer' },
  { method: 'PATCH', path: `/v1/contacts/${MISSING}`, need: 'admin', body: { name: 'Y' } },
  { method: 'DELETE', path: `/v1/contacts/${MISSING}`, need: 'admin' },

  { method: 'GET', path: `/v1/accounts/${MISSING}/activities`, need: 'viewer' },
  {
    method: 'POST',
    path: `/v1/accounts/${MISSING}/activities`,
    need: 'admin',
    body: { kind: 'task', subject: 'X' },
  },
  { method: 'GET', path: `/v1/activities/${MISSING}`, need: 'viewer' },
  { method: 'PATCH', path: `/v1/activities/${MISSING}`, need: 'admin', body: { subject: 'Y' } },
  { method: 'DELETE', path: `/v1/activities/${MISSING}`, need: 'admin' },

  { method: 'GET', path: '/v1/subscriptions', need: 'viewer' },
  { method: 'GET', path: `/v1/subscriptions/${MISSING}`, need: 'viewer' },

  { method: 'GET', path: '/v1/events', need: 'viewer' },
  { method: 'GET', path: `/v1/events/${NO_EVENT}`, need: 'viewer' },
  { method: 'POST', path: `/v1/events/${NO_EVENT}/replay`, need: 'admin' },
  { method: 'POST', path: '/v1/events/replay', need: 'admin', body: { source_id: MISSING } },

  { method: 'GET', path: '/v1/price-book/prices', need: 'viewer' },
  {
    method: 'POST',
    path: '/v1/price-book/prices',
    need: 'billing',
    body: {
      sku: 'MATRIX',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '1.00',
      effective_from: '2030-01-01',
    },
  },
  { method: 'GET', path: '/v1/price-book/overrides', need: 'viewer' },
  {
    method: 'POST',
    path: '/v1/price-book/overrides',
    need: 'billing',
    body: {
      tenant_id: alpha.account_id,
      sku: 'MATRIX',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '1.00',
      effective_from: '2030-01-01',
    },
  },
  { method: 'GET', path: '/v1/price-book/tiers', need: 'viewer' },
  {
    method: 'PUT',
    path: '/v1/price-book/tiers',
    need: 'billing',
    body: { name: 'matrix', discount: '0.01' },
  },
  { method: 'GET', path: '/v1/price-book/settings', need: 'viewer' },
  { method: 'PATCH', path: '/v1/price-book/settings', need: 'billing', body: {} },
  {
    method: 'PATCH',
    path: `/v1/price-book/resellers/${MISSING}`,
    need: 'billing',
    body: { tax_rate: '0.2' },
  },

  {
    method: 'POST',
    path: '/v1/invoice-runs',
    need: 'billing',
    body: { period: '2026-01', source_id: MISSING },
  },
  { method: 'GET', path: `/v1/invoice-runs/${MISSING}`, need: 'viewer' },

  { method: 'GET', path: '/v1/invoices', need: 'viewer' },
  { method: 'GET', path: `/v1/invoices/${MISSING}`, need: 'viewer' },
  { method: 'GET', path: `/v1/invoices/${MISSING}.csv`, need: 'viewer' },
  { method: 'GET', path: `/v1/invoices/${MISSING}.pdf`, need: 'viewer' },
  { method: 'POST', path: `/v1/invoices/${MISSING}/finalize`, need: 'billing' },
  { method: 'POST', path: `/v1/invoices/${MISSING}/void`, need: 'billing' },
  { method: 'GET', path: `/v1/invoices/${MISSING}/credit-notes`, need: 'viewer' },
  {
    method: 'POST',
    path: `/v1/invoices/${MISSING}/credit-notes`,
    need: 'billing',
    body: { lines: [{ line_id: '1', amount: '1.00' }] },
  },
]

describe('auth on every /v1 route', () => {
  let revoked = ''
  beforeAll(async () => {
    const created = await ok<{ id: string; key: string }>(
      call('POST', '/v1/api-keys', { body: { name: 'to revoke', role: 'admin' } }),
      201,
    )
    await ok(call('DELETE', `/v1/api-keys/${created.id}`))
    revoked = created.key
  })

  it.each(ROUTES.map((r) => [`${r.method} ${r.path.replace(MISSING, '{id}')}`, r] as const))(
    '%s',
    async (_, r) => {
      const anonymous: [string, Record<string, string>][] = [
        ['no Authorization header', {}],
        ['a garbage key', bearer(GARBAGE_KEY)],
        ['a revoked key', bearer(revoked)],
        ['another scheme', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }],
      ]
      for (const [, headers] of anonymous) {
        await fails(call(r.method, r.path, { key: null, headers, body: r.body }), 401, 'unauthorized')
      }
      for (const role of rolesBelow(r.need)) {
        await fails(call(r.method, r.path, { key: keys[role], body: r.body }), 403, 'forbidden')
      }
      // The least role that may call it gets past auth (here: a 2xx, or the 404 of the missing id).
      const allowed = await call(r.method, r.path, { key: keys[r.need], body: r.body })
      expect(allowed.status, await allowed.text()).toBeLessThan(500)
      expect([401, 403]).not.toContain(allowed.status)
    },
  )

  it('covers every /v1 route the app mounts (webhooks aside)', () => {
    const mounted = t.app.routes
      .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/') && !r.path.startsWith('/v1/webhooks'))
      .map(
        (r) =>
          `${r.method} ${r.path.replace(/:[a-z]+\{.*\.(csv|pdf)\}$/, '{id}.$1').replace(/:[a-z]+/g, '{id}')}`,
      )
    const covered = ROUTES.map(
      (r) => `${r.method} ${r.path.replaceAll(MISSING, '{id}').replace(NO_EVENT, '{id}')}`,
    )
    expect(new Set(mounted).size).toBeGreaterThanOrEqual(50)
    expect([...new Set(mounted)].filter((m) => !covered.includes(m)).sort()).toEqual([])
    expect(covered.filter((m) => !mounted.includes(m))).toEqual([])
  })
})

// --- 2-4. Each resource: happy path, error answers, filters and pagination. ---

describe('API keys', () => {
  it('creates a key shown once, lists keys without it, revokes it', async () => {
    const created = await ok<{ id: string; key: string; role: string; revoked_at: string | null }>(
      call('POST', '/v1/api-keys', { body: { name: 'reporting', role: 'billing' } }),
      201,
    )
    expect(created).toMatchObject({ role: 'billing', revoked_at: null })
    expect(created.key).toMatch(/^tsk_/)
    await ok(call('GET', '/v1/price-book/settings', { key: created.key }))
    const list = await ok<List<{ id: string; role: string }>>(call('GET', '/v1/api-keys'))
    expect(list.data.find((k) => k.id === created.id)?.role).toBe('billing')
    expect(JSON.stringify(list)).not.toContain(created.key)
    const revoked = await ok<Data<{ revoked_at: string | null }>>(
      call('DELETE', `/v1/api-keys/${created.id}`),
    )
    expect(revoked.data.revoked_at).toBeTruthy()
    await fails(call('GET', '/v1/price-book/settings', { key: created.key }), 401, 'unauthorized')
  })

  it('answers 400 for a bad body or id, 404 for an unknown id', async () => {
    const bad = await fails(
      call('POST', '/v1/api-keys', { body: { name: '', role: 'owner' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(bad).sort()).toEqual(['name', 'role'])
    await fails(call('DELETE', '/v1/api-keys/not-a-uuid'), 400, 'bad_request')
    await fails(call('DELETE', `/v1/api-keys/${MISSING}`), 404, 'not_found')
  })
})

describe('sources', () => {
  let id = ''
  let secret = ''

  it('POST /v1/sources registers a BSS with its tenant reseller and a Standard Webhooks secret', async () => {
    const created = await ok<{ id: string; secret: string; webhook_url: string; account_id: string }>(
      call('POST', '/v1/sources', {
        body: { name: 'Delta BSS', format: 'canonical', reseller: reseller('Delta Resell', 'R-D') },
      }),
      201,
    )
    ;({ id, secret } = created)
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32,}$/)
    expect(created.webhook_url).toMatch(new RegExp(`/v1/webhooks/${id}$`))
    const tenant = await ok<Data<Account>>(call('GET', `/v1/accounts/${created.account_id}`))
    expect(tenant.data).toMatchObject({ type: 'tenant_reseller', name: 'Delta Resell' })
  })

  it('POST /v1/sources refuses an invalid body with the failing paths', async () => {
    const e = await fails(
      call('POST', '/v1/sources', {
        body: { name: '', format: 'telepathy', reseller: { currency: 'euro' } },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(
      expect.arrayContaining(['name', 'format', 'reseller.name', 'reseller.currency']),
    )
  })

  it('GET lists sources without secrets; GET /{id} adds its health', async () => {
    const list = await ok<List<{ id: string; name: string }>>(
      call('GET', '/v1/sources', { key: keys.viewer }),
    )
    expect(list.data.map((s) => s.name)).toEqual(expect.arrayContaining(['Alpha BSS', 'Delta BSS']))
    expect(JSON.stringify(list)).not.toContain(secret)
    const one = await ok<Data<{ id: string; enabled: boolean; health: { events: { failed: number } } }>>(
      call('GET', `/v1/sources/${alpha.id}`, { key: keys.viewer }),
    )
    expect(one.data).toMatchObject({ id: alpha.id, enabled: true })
    expect(one.data.health.events.failed).toBe(1)
    await fails(call('GET', '/v1/sources/not-a-uuid'), 400, 'bad_request')
    await fails(call('GET', `/v1/sources/${MISSING}`), 404, 'not_found')
  })

  it('rotates the secret: both the new and the previous one verify during the grace period', async () => {
    const rotated = await ok<{ secret: string; secrets: unknown[] }>(
      call('POST', `/v1/sources/${id}/secrets/rotate`, { body: { grace_hours: 1 } }),
    )
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(secret)
    expect(rotated.secrets).toHaveLength(2)
    const ping = { type: 'test.ping', occurred_at: new Date().toISOString(), data: {} }
    expect((await sender(t, { id, secret }).send(ping)).status).toBe(202)
    expect((await sender(t, { id, secret: rotated.secret }).send(ping)).status).toBe(202)
    const e = await fails(
      call('POST', `/v1/sources/${id}/secrets/rotate`, { body: { grace_hours: -1 } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(['grace_hours'])
    await fails(call('POST', `/v1/sources/${MISSING}/secrets/rotate`, { body: {} }), 404, 'not_found')
  })

  it('PATCH changes settings; an incoherent result is 422, a bad field 400', async () => {
    const patched = await ok<Data<{ name: string; rate_limit_per_minute: number | null }>>(
      call('PATCH', `/v1/sources/${id}`, { body: { name: 'Delta BSS v2', rate_limit_per_minute: 600 } }),
    )
    expect(patched.data).toMatchObject({ name: 'Delta BSS v2', rate_limit_per_minute: 600 })
    const e = await fails(
      call('PATCH', `/v1/sources/${id}`, { body: { reconcile_every_minutes: 60 } }),
      422,
      'invalid_settings',
    )
    expect(JSON.stringify(e.details)).toContain('reconcile_every_minutes')
    const bad = await fails(call('PATCH', `/v1/sources/${id}`, { body: { name: 42 } }), 400, 'bad_request')
    expect(detailPaths(bad)).toEqual(['name'])
    await fails(call('PATCH', `/v1/sources/${MISSING}`, { body: { name: 'x' } }), 404, 'not_found')
  })

  it('PUT /mapping stores a compiled expression; /mapping/preview shows what a payload becomes', async () => {
    await fails(
      call('POST', `/v1/sources/${id}/mapping/preview`, { body: { payload: {} } }),
      422,
      'invalid_settings',
    )
    const expression =
      '{"type": "account.created", "occurred_at": at, "data": {"id": ref, "type": "customer", "parent_id": null, "name": name}}'
    const put = await ok<Data<{ mapping: { expression: string } }>>(
      call('PUT', `/v1/sources/${id}/mapping`, { body: { expression } }),
    )
    expect(put.data.mapping.expression).toBe(expression)
    const preview = await ok<{ ok: boolean; events: { type: string; data: { id: string } }[] }>(
      call('POST', `/v1/sources/${id}/mapping/preview`, {
        body: { payload: { at: '2026-11-02T08:00:00Z', ref: 'hg-1', name: 'Home Grown' } },
      }),
    )
    expect(preview.ok).toBe(true)
    expect(preview.events.map((e) => [e.type, e.data.id])).toEqual([['account.created', 'hg-1']])
    const bad = await fails(
      call('PUT', `/v1/sources/${id}/mapping`, { body: { expression: '{ "type": ' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(bad)).toEqual(['expression'])
    await fails(call('PUT', `/v1/sources/${MISSING}/mapping`, { body: { expression } }), 404, 'not_found')
    await fails(
      call('POST', `/v1/sources/${MISSING}/mapping/preview`, { body: { payload: {} } }),
      404,
      'not_found',
    )
  })

  it('POST /reconcile queues a reconciliation for a source with a BSS API, 422 without one', async () => {
    await fails(call('POST', `/v1/sources/${id}/reconcile`), 422, 'invalid_settings')
    const withApi = await ok<{ id: string }>(
      call('POST', '/v1/sources', {
        body: {
          name: 'Epsilon BSS',
          reseller: reseller('Epsilon Resell', 'R-E'),
          api: { base_url: 'http://127.0.0.1:9/api', credentials: { type: 'none' } },
        },
      }),
      201,
    )
    const queued = await ok<{ job_id: string; status: string }>(
      call('POST', `/v1/sources/${withApi.id}/reconcile`),
      202,
    )
    expect(queued.status).toBe('queued')
    expect(queued.job_id).toBeTruthy()
    await fails(call('POST', `/v1/sources/${MISSING}/reconcile`), 404, 'not_found')
    await fails(call('POST', '/v1/sources/not-a-uuid/reconcile'), 400, 'bad_request')
  })

  it('disable refuses its webhooks (404 source_not_found); enable accepts them again', async () => {
    const latest = await ok<{ secret: string }>(
      call('POST', `/v1/sources/${id}/secrets/rotate`, { body: {} }),
    )
    const bss = sender(t, { id, secret: latest.secret })
    const ping = { type: 'test.ping', occurred_at: new Date().toISOString(), data: {} }
    const off = await ok<Data<{ enabled: boolean }>>(call('POST', `/v1/sources/${id}/disable`))
    expect(off.data.enabled).toBe(false)
    expect((await bss.send(ping)).status).toBe(404)
    const on = await ok<Data<{ enabled: boolean }>>(call('POST', `/v1/sources/${id}/enable`))
    expect(on.data.enabled).toBe(true)
    expect((await bss.send(ping)).status).toBe(202)
    await fails(call('POST', `/v1/sources/${MISSING}/disable`), 404, 'not_found')
    await fails(call('POST', `/v1/sources/${MISSING}/enable`), 404, 'not_found')
  })
})

describe('accounts', () => {
  it('GET /v1/accounts filters by source_id, external_id, q, type and parent_id', async () => {
    const ext = async (q: string) =>
      (await ok<List<Account>>(call('GET', `/v1/accounts?${q}`, { key: keys.viewer }))).data
        .map((r) => r.external_id)
        .sort()
    expect(await ext(`source_id=${alpha.id}`)).toEqual(['cust-1', 'cust-2', 'cust-3', 'cust-4', 'res-1'])
    expect(await ext('external_id=cust-1')).toEqual(['cust-1', 'cust-1', 'cust-1'])
    expect(await ext(`external_id=cust-1&source_id=${beta.id}`)).toEqual(['cust-1'])
    expect(await ext('q=acme')).toEqual(['cust-1'])
    expect(await ext(`type=reseller&source_id=${alpha.id}`)).toEqual(['res-1'])
    expect(await ext(`parent_id=${subReseller.id}`)).toEqual(['cust-1'])
    expect(acme).toMatchObject({ source_id: alpha.id, external_id: 'cust-1', name: 'Acme Ltd' })
  })

  it('pages with next_cursor: every account once, in as many pages as the limit makes', async () => {
    const all = await allPages(`/v1/accounts?source_id=${alpha.id}&limit=2`)
    expect(all.pages).toBe(3)
    const one = await ok<List>(call('GET', `/v1/accounts?source_id=${alpha.id}&limit=200`))
    expect(all.ids.sort()).toEqual(one.data.map((r) => r.id).sort())
  })

  it('GET /v1/accounts refuses bad query parameters and cursors with 400', async () => {
    const bad = await fails(call('GET', '/v1/accounts?source_id=nope&limit=0'), 400, 'bad_request')
    expect(detailPaths(bad).sort()).toEqual(['limit', 'source_id'])
    const cursor = await fails(call('GET', '/v1/accounts?cursor=%%%not-a-cursor'), 400, 'bad_request')
    expect(detailPaths(cursor)).toEqual(['cursor'])
  })

  it('GET /v1/accounts/{id} answers the account and its history; 400 and 404 otherwise', async () => {
    const one = await ok<Data<Account & { history: History[] }>>(call('GET', `/v1/accounts/${acme.id}`))
    expect(one.data).toMatchObject({ id: acme.id, name: 'Acme Ltd', type: 'customer', source_id: alpha.id })
    expect(one.data.history.map((h) => h.event_type)).toEqual(['account.created'])
    expect(one.data.history[0]?.changes.name).toEqual({ before: null, after: 'Acme Ltd' })
    await fails(call('GET', '/v1/accounts/not-a-uuid'), 400, 'bad_request')
    await fails(call('GET', `/v1/accounts/${MISSING}`), 404, 'not_found')
  })

  it('GET /v1/accounts/{id}/tree answers the hierarchy with names and children', async () => {
    type Node = { name: string; type: string; subscriptions: number; children: Node[] }
    const tree = (await ok<Data<Node>>(call('GET', `/v1/accounts/${alpha.account_id}/tree`))).data
    const shape = (n: Node): unknown => [n.name, n.subscriptions, n.children.map(shape)]
    expect(shape(tree)).toEqual([
      'Alpha Resell',
      0,
      [
        ['Alpha Sub-reseller', 0, [['Acme Ltd', 1, []]]],
        ['Bolt GmbH', 1, []],
        ['Cirrus SA', 1, []],
        ['Delta SRL', 1, []],
      ],
    ])
    const sub = (await ok<Data<Node>>(call('GET', `/v1/accounts/${subReseller.id}/tree`))).data
    expect(sub.children.map((n) => n.name)).toEqual(['Acme Ltd'])
    await fails(call('GET', '/v1/accounts/not-a-uuid/tree'), 400, 'bad_request')
    await fails(call('GET', `/v1/accounts/${MISSING}/tree`), 404, 'not_found')
  })

  it('PATCH /v1/accounts/{id} changes distributor-owned fields only', async () => {
    const body = { notes: 'Key account', tags: ['gold', 'emea'], custom_attributes: { crm_id: 'C-77' } }
    const patched = await ok<Data<Account>>(call('PATCH', `/v1/accounts/${bolt.id}`, { body }))
    expect(patched.data).toMatchObject({ ...body, name: 'Bolt GmbH' })
    const cleared = await ok<Data<Account>>(
      call('PATCH', `/v1/accounts/${bolt.id}`, { body: { notes: null } }),
    )
    expect(cleared.data).toMatchObject({ notes: null, tags: ['gold', 'emea'] })
  })

  it('PATCH of a synced field is 409 field_locked naming the fields, and changes nothing', async () => {
    const e = await fails(
      call('PATCH', `/v1/accounts/${bolt.id}`, {
        body: {
          name: 'Renamed',
          email: 'x@example.com',
          billing_address: {},
          type: 'reseller',
          parent_id: null,
          notes: 'sneaky',
        },
      }),
      409,
      'field_locked',
    )
    expect(e.details).toEqual({ fields: ['name', 'email', 'billing_address', 'type', 'parent_id'] })
    expect(e.message).toContain('name, email, billing_address, type, parent_id')
    const after = await ok<Data<Account>>(call('GET', `/v1/accounts/${bolt.id}`))
    expect(after.data).toMatchObject({ name: 'Bolt GmbH', notes: null })
  })

  it('PATCH refuses unknown and ill-typed fields with 400, bad ids with 400 and 404', async () => {
    const e = await fails(
      call('PATCH', `/v1/accounts/${bolt.id}`, { body: { tags: 'gold', colour: 'red' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['colour', 'tags'])
    await fails(call('PATCH', '/v1/accounts/not-a-uuid', { body: { notes: 'x' } }), 400, 'bad_request')
    await fails(call('PATCH', `/v1/accounts/${MISSING}`, { body: { notes: 'x' } }), 404, 'not_found')
  })
})

describe('contacts', () => {
  it('creates, lists (paged), reads, changes and deletes contacts of an account', async () => {
    const ids: string[] = []
    for (const name of ['Maria', 'Nikos', 'Eleni']) {
      const created = await ok<Data<{ id: string; account_id: string; name: string; email: string }>>(
        call('POST', `/v1/accounts/${acme.id}/contacts`, {
          body: { name, email: `${name.toLowerCase()}@acme.example`, role: 'billing' },
        }),
        201,
      )
      expect(created.data).toMatchObject({ account_id: acme.id, name, role: 'billing' })
      ids.push(created.data.id)
    }
    const paged = await allPages(`/v1/accounts/${acme.id}/contacts?limit=2`)
    expect(paged).toEqual({ ids: [...ids].reverse(), pages: 2 })
    const asc = await ok<List>(call('GET', `/v1/accounts/${acme.id}/contacts?sort=created_at`))
    expect(asc.data.map((r) => r.id)).toEqual(ids)

    const id = ids[0] as string
    expect(
      (await ok<Data<{ name: string }>>(call('GET', `/v1/contacts/${id}`, { key: keys.viewer }))).data.name,
    ).toBe('Maria')
    const patched = await ok<Data<{ role: string | null; email: string | null }>>(
      call('PATCH', `/v1/contacts/${id}`, { body: { role: 'technical', email: null } }),
    )
    expect(patched.data).toMatchObject({ role: 'technical', email: null })
    const deleted = await call('DELETE', `/v1/contacts/${id}`)
    expect(deleted.status).toBe(204)
    await fails(call('GET', `/v1/contacts/${id}`), 404, 'not_found')
    await fails(call('DELETE', `/v1/contacts/${id}`), 404, 'not_found')
  })

  it('answers 400 for bad bodies, ids and cursors, 404 for unknown accounts and contacts', async () => {
    const e = await fails(
      call('POST', `/v1/accounts/${acme.id}/contacts`, { body: { name: '', email: 'not-an-email', age: 3 } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(expect.arrayContaining(['name', 'email']))
    await fails(call('POST', `/v1/accounts/${MISSING}/contacts`, { body: { name: 'X' } }), 404, 'not_found')
    await fails(call('GET', `/v1/accounts/${MISSING}/contacts`), 404, 'not_found')
    await fails(call('GET', '/v1/accounts/not-a-uuid/contacts'), 400, 'bad_request')
    await fails(call('GET', `/v1/accounts/${acme.id}/contacts?cursor=garbage`), 400, 'bad_request')
    await fails(call('GET', '/v1/contacts/not-a-uuid'), 400, 'bad_request')
    await fails(call('PATCH', `/v1/contacts/${MISSING}`, { body: { name: 'Y' } }), 404, 'not_found')
    const patch = await fails(
      call('PATCH', `/v1/contacts/${MISSING}`, { body: { phone: 5 } }),
      400,
      'bad_request',
    )
    expect(detailPaths(patch)).toEqual(['phone'])
  })
})

describe('activities', () => {
  it('logs tasks and cases, filters them by kind and status, changes and deletes them', async () => {
    const task = await ok<Data<{ id: string; kind: string; status: string; due_at: string }>>(
      call('POST', `/v1/accounts/${bolt.id}/activities`, {
        body: { kind: 'task', subject: 'Call about renewal', due_at: '2026-12-01T09:00:00Z' },
      }),
      201,
    )
    expect(task.data).toMatchObject({ kind: 'task', status: 'open' })
    const kase = await ok<Data<{ id: string; kind: string; priority: string }>>(
      call('POST', `/v1/accounts/${bolt.id}/activities`, {
        body: { kind: 'case', subject: 'Billing dispute', priority: 'high' },
      }),
      201,
    )
    expect(kase.data).toMatchObject({ kind: 'case', priority: 'high', status: 'open' })
    const list = async (q: string) =>
      (await ok<List>(call('GET', `/v1/accounts/${bolt.id}/activities?${q}`, { key: keys.viewer }))).data.map(
        (r) => r.id,
      )
    expect(await list('kind=task')).toEqual([task.data.id])
    expect(await list('')).toEqual([kase.data.id, task.data.id])
    expect((await allPages(`/v1/accounts/${bolt.id}/activities?limit=1`)).ids).toEqual([
      kase.data.id,
      task.data.id,
    ])

    const done = await ok<Data<{ status: string }>>(
      call('PATCH', `/v1/activities/${task.data.id}`, { body: { status: 'done' } }),
    )
    expect(done.data.status).toBe('done')
    expect(await list('status=open')).toEqual([kase.data.id])
    const read = await ok<Data<{ subject: string }>>(call('GET', `/v1/activities/${kase.data.id}`))
    expect(read.data.subject).toBe('Billing dispute')
    expect((await call('DELETE', `/v1/activities/${kase.data.id}`)).status).toBe(204)
    await fails(call('GET', `/v1/activities/${kase.data.id}`), 404, 'not_found')
  })

  it('answers 400 for invalid activities and a kind change, 404 for unknown ones', async () => {
    const e = await fails(
      call('POST', `/v1/accounts/${bolt.id}/activities`, {
        body: {
          kind: 'event',
          subject: 'QBR',
          starts_at: '2026-12-01T10:00:00Z',
          ends_at: '2026-12-01T09:00:00Z',
        },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(['ends_at'])
    const kind = await fails(
      call('POST', `/v1/accounts/${bolt.id}/activities`, { body: { kind: 'meeting', subject: 'x' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(kind)).toEqual(['kind'])
    const task = await ok<Data<{ id: string }>>(
      call('POST', `/v1/accounts/${bolt.id}/activities`, { body: { kind: 'task', subject: 'T' } }),
      201,
    )
    const immutable = await fails(
      call('PATCH', `/v1/activities/${task.data.id}`, { body: { kind: 'case' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(immutable)).toEqual(['kind'])
    await fails(
      call('POST', `/v1/accounts/${MISSING}/activities`, { body: { kind: 'task', subject: 'X' } }),
      404,
      'not_found',
    )
    await fails(call('GET', `/v1/accounts/${MISSING}/activities`), 404, 'not_found')
    await fails(call('GET', `/v1/accounts/${bolt.id}/activities?kind=fax`), 400, 'bad_request')
    await fails(call('GET', `/v1/accounts/${bolt.id}/activities?cursor=garbage`), 400, 'bad_request')
    await fails(call('GET', '/v1/activities/not-a-uuid'), 400, 'bad_request')
    await fails(call('PATCH', `/v1/activities/${MISSING}`, { body: { subject: 'Y' } }), 404, 'not_found')
    await fails(call('DELETE', `/v1/activities/${MISSING}`), 404, 'not_found')
  })
})

describe('subscriptions', () => {
  it('GET /v1/subscriptions filters by source_id, external_id, account_id, status and sku', async () => {
    const ext = async (q: string) =>
      (await ok<List<Subscription>>(call('GET', `/v1/subscriptions?${q}`, { key: keys.viewer }))).data
        .map((s) => s.external_id)
        .sort()
    expect(await ext(`source_id=${alpha.id}`)).toEqual(['sub-1', 'sub-2', 'sub-3', 'sub-4'])
    expect(await ext('external_id=sub-1')).toEqual(['sub-1', 'sub-1', 'sub-1'])
    expect(await ext(`account_id=${acme.id}`)).toEqual(['sub-1'])
    expect(await ext(`source_id=${alpha.id}&status=suspended`)).toEqual(['sub-3'])
    expect(await ext(`source_id=${alpha.id}&sku=E5`)).toEqual(['sub-3', 'sub-4'])
    expect(await ext(`sku=E5&status=active`)).toEqual(['sub-1', 'sub-4'])
  })

  it('pages with next_cursor, each subscription once', async () => {
    const all = await allPages(`/v1/subscriptions?source_id=${alpha.id}&limit=1`)
    expect(all.pages).toBe(4)
    const one = await ok<List>(call('GET', `/v1/subscriptions?source_id=${alpha.id}`))
    expect(all.ids.sort()).toEqual(one.data.map((s) => s.id).sort())
  })

  it('answers 400 for a bad filter or cursor', async () => {
    const e = await fails(call('GET', '/v1/subscriptions?status=paused&account_id=1'), 400, 'bad_request')
    expect(detailPaths(e).sort()).toEqual(['account_id', 'status'])
    await fails(call('GET', '/v1/subscriptions?cursor=garbage'), 400, 'bad_request')
  })

  it('GET /v1/subscriptions/{id} answers it with its change history', async () => {
    const sub1 = await subscriptionOf(alpha, 'sub-1')
    const one = await ok<Data<Subscription & { quantity: number; history: History[] }>>(
      call('GET', `/v1/subscriptions/${sub1.id}`, { key: keys.viewer }),
    )
    expect(one.data).toMatchObject({ external_id: 'sub-1', account_id: acme.id, quantity: 15, sku: 'M365' })
    expect(one.data.history.map((h) => h.event_type)).toEqual([
      'subscription.created',
      'subscription.updated',
    ])
    expect(one.data.history[1]?.changes).toEqual({ quantity: { before: 10, after: 15 } })
    await fails(call('GET', '/v1/subscriptions/not-a-uuid'), 400, 'bad_request')
    await fails(call('GET', `/v1/subscriptions/${MISSING}`), 404, 'not_found')
  })

  it('has no route that writes: 405 method_not_allowed', async () => {
    const sub1 = await subscriptionOf(alpha, 'sub-1')
    await fails(call('POST', '/v1/subscriptions', { body: { sku: 'X' } }), 405, 'method_not_allowed')
    await fails(
      call('PATCH', `/v1/subscriptions/${sub1.id}`, { body: { quantity: 1 } }),
      405,
      'method_not_allowed',
    )
    await fails(call('DELETE', `/v1/subscriptions/${sub1.id}`), 405, 'method_not_allowed')
  })
})

describe('events', () => {
  const list = async (q: string) =>
    (await ok<List<Event>>(call('GET', `/v1/events?${q}`, { key: keys.viewer }))).data

  it('GET /v1/events filters by source_id, status, type, since and until', async () => {
    const alphaEvents = await list(`source_id=${alpha.id}&limit=200`)
    expect(alphaEvents).toHaveLength(ALPHA_EVENTS)
    expect(alphaEvents.every((e) => e.source_id === alpha.id)).toBe(true)
    expect((await list(`source_id=${alpha.id}&status=failed`)).map((e) => e.object_id)).toEqual(['bad-1'])
    expect((await list(`source_id=${alpha.id}&type=subscription.updated`)).map((e) => e.object_id)).toEqual([
      'sub-1',
    ])
    expect(await list(`source_id=${alpha.id}&since=2999-01-01T00:00:00Z`)).toEqual([])
    expect(await list(`source_id=${alpha.id}&until=2000-01-01T00:00:00Z`)).toEqual([])
    expect(await list(`source_id=${alpha.id}&since=2000-01-01&limit=200`)).toHaveLength(ALPHA_EVENTS)
  })

  it('pages newest first with next_cursor, each event once', async () => {
    const all = await allPages(`/v1/events?source_id=${alpha.id}&limit=3`)
    expect(all.pages).toBe(4)
    expect(all.ids).toHaveLength(ALPHA_EVENTS)
    expect([...all.ids].sort((x, y) => Number(y) - Number(x))).toEqual(all.ids)
  })

  it('answers 400 for a bad filter or cursor', async () => {
    const e = await fails(call('GET', '/v1/events?status=exploded&since=yesterday'), 400, 'bad_request')
    expect(detailPaths(e).sort()).toEqual(['since', 'status'])
    await fails(call('GET', '/v1/events?cursor=garbage'), 400, 'bad_request')
  })

  it('GET /v1/events/{id} answers the raw payload and the outcome', async () => {
    const [failed] = await list(`source_id=${alpha.id}&status=failed`)
    const one = await ok<
      Data<Event & { payload: { type: string }; error: string; error_details: unknown[] }>
    >(call('GET', `/v1/events/${failed?.id}`, { key: keys.viewer }))
    expect(one.data).toMatchObject({
      status: 'failed',
      event_type: 'subscription.created',
      object_id: 'bad-1',
    })
    expect(one.data.payload.type).toBe('subscription.created')
    expect(one.data.error_details.length).toBeGreaterThan(0)
    await fails(call('GET', '/v1/events/not-a-number'), 400, 'bad_request')
    await fails(call('GET', `/v1/events/${NO_EVENT}`), 404, 'not_found')
  })

  it('POST /v1/events/{id}/replay runs a settled event again', async () => {
    const [failed] = await list(`source_id=${alpha.id}&status=failed`)
    const replay = await ok<{ id: string; status: string }>(
      call('POST', `/v1/events/${failed?.id}/replay`),
      202,
    )
    expect(replay).toEqual({ id: failed?.id, status: 'received' })
    await settled(t)
    const [row] = await t.db.sql<{ status: string; generation: number }[]>`
      select status, generation from inbox where id = ${failed?.id as string}`
    // Still unmappable: failed again, but through a new generation.
    expect(row).toEqual({ status: 'failed', generation: 1 })
    await fails(call('POST', '/v1/events/abc/replay'), 400, 'bad_request')
    await fails(call('POST', `/v1/events/${NO_EVENT}/replay`), 404, 'not_found')
  })

  it('POST /v1/events/{id}/replay of an event still in flight is 409 conflict', async () => {
    // An app with no worker: its deliveries stay `received`.
    const idle = await createTestApp()
    const source = await createSourceViaApi(idle)
    const pending = await sender(idle, source).send(account('cust-9'))
    expect(pending.status).toBe(202)
    const res = await idle.app.request(`/v1/events/${pending.id}/replay`, {
      method: 'POST',
      headers: bearer(idle.adminKey),
    })
    await fails(res, 409, 'conflict')
  })

  it('POST /v1/events/replay replays every failed event of a filter', async () => {
    const replayed = await ok<{ replayed: number }>(
      call('POST', '/v1/events/replay', { body: { source_id: alpha.id } }),
      202,
    )
    expect(replayed).toEqual({ replayed: 1 })
    await settled(t)
    const none = await ok<{ replayed: number }>(
      call('POST', '/v1/events/replay', { body: { source_id: beta.id } }),
      202,
    )
    expect(none).toEqual({ replayed: 0 })
    const e = await fails(
      call('POST', '/v1/events/replay', { body: { source_id: 'nope', status: 'exploded' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['source_id', 'status'])
  })
})

describe('price book', () => {
  it('lists and adds prices; refuses a bad price with the failing paths', async () => {
    const added = await ok<Data<{ sku: string; unit_price: string; term: string | null }>>(
      call('POST', '/v1/price-book/prices', {
        key: keys.billing,
        body: {
          sku: 'E3',
          billing_cycle: 'annual',
          term: 'P1Y',
          currency: 'EUR',
          unit_price: 96,
          effective_from: '2026-01-01',
        },
      }),
      201,
    )
    expect(added.data).toMatchObject({ sku: 'E3', term: 'P1Y' })
    expect(Number(added.data.unit_price)).toBe(96)
    const e3 = await ok<List<{ sku: string }>>(
      call('GET', '/v1/price-book/prices?sku=E3', { key: keys.viewer }),
    )
    expect(e3.data.map((p) => p.sku)).toEqual(['E3'])
    const all = await ok<List<{ sku: string }>>(call('GET', '/v1/price-book/prices'))
    expect(all.data.map((p) => p.sku)).toEqual(expect.arrayContaining(['E3', 'E5', 'M365']))
    const e = await fails(
      call('POST', '/v1/price-book/prices', {
        key: keys.billing,
        body: {
          sku: 'E3',
          billing_cycle: 'weekly',
          currency: 'eur',
          unit_price: '-1',
          effective_from: '2026-13-01',
        },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['billing_cycle', 'currency', 'effective_from', 'unit_price'])
  })

  it('sets and lists per-reseller overrides', async () => {
    const added = await ok<Data<{ tenant_id: string; unit_price: string }>>(
      call('POST', '/v1/price-book/overrides', {
        key: keys.billing,
        body: {
          tenant_id: beta.account_id,
          sku: 'M365',
          billing_cycle: 'monthly',
          currency: 'EUR',
          unit_price: '10.50',
          effective_from: '2031-01-01',
        },
      }),
      201,
    )
    expect(added.data.tenant_id).toBe(beta.account_id)
    const list = await ok<List<{ tenant_id: string; sku: string }>>(
      call('GET', `/v1/price-book/overrides?tenant_id=${beta.account_id}`, { key: keys.viewer }),
    )
    expect(list.data.map((o) => [o.tenant_id, o.sku])).toEqual([[beta.account_id, 'M365']])
    await fails(call('GET', '/v1/price-book/overrides?tenant_id=nope'), 400, 'bad_request')
    const e = await fails(
      call('POST', '/v1/price-book/overrides', { key: keys.billing, body: { sku: 'M365' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(expect.arrayContaining(['tenant_id', 'billing_cycle', 'unit_price']))
  })

  it('upserts and lists tiers', async () => {
    const saved = await ok<Data<{ name: string; discount: string }>>(
      call('PUT', '/v1/price-book/tiers', { key: keys.billing, body: { name: 'gold', discount: '0.1' } }),
    )
    expect(saved.data.name).toBe('gold')
    expect(Number(saved.data.discount)).toBe(0.1)
    await ok(
      call('PUT', '/v1/price-book/tiers', { key: keys.billing, body: { name: 'gold', discount: '0.12' } }),
    )
    const tiers = await ok<List<{ name: string; discount: string }>>(call('GET', '/v1/price-book/tiers'))
    expect(tiers.data.filter((x) => x.name === 'gold').map((x) => Number(x.discount))).toEqual([0.12])
    const e = await fails(
      call('PUT', '/v1/price-book/tiers', { key: keys.billing, body: { name: 'Gold!', discount: '1.5' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['discount', 'name'])
  })

  it('reads and changes the billing settings', async () => {
    const before = (
      await ok<Data<{ lookback_months: number; rounding_mode: string }>>(
        call('GET', '/v1/price-book/settings'),
      )
    ).data
    const changed = await ok<Data<{ lookback_months: number; rounding_mode: string }>>(
      call('PATCH', '/v1/price-book/settings', { key: keys.billing, body: { lookback_months: 7 } }),
    )
    expect(changed.data).toEqual({ ...before, lookback_months: 7 })
    await ok(
      call('PATCH', '/v1/price-book/settings', {
        key: keys.billing,
        body: { lookback_months: before.lookback_months },
      }),
    )
    const e = await fails(
      call('PATCH', '/v1/price-book/settings', {
        key: keys.billing,
        body: { rounding_mode: 'up', lookback_months: -1 },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['lookback_months', 'rounding_mode'])
  })

  it("sets a tenant reseller's tier and tax rate; other accounts are 404", async () => {
    const saved = await ok<Data<{ id: string; tier: string; tax_rate: string; name: string }>>(
      call('PATCH', `/v1/price-book/resellers/${gamma.account_id}`, {
        key: keys.billing,
        body: { tier: 'gold', tax_rate: '0.24' },
      }),
    )
    expect(saved.data).toMatchObject({ id: gamma.account_id, name: 'Gamma Resell', tier: 'gold' })
    expect(Number(saved.data.tax_rate)).toBe(0.24)
    await fails(
      call('PATCH', `/v1/price-book/resellers/${acme.id}`, { key: keys.billing, body: { tax_rate: '0.2' } }),
      404,
      'not_found',
    )
    await fails(
      call('PATCH', `/v1/price-book/resellers/${MISSING}`, { key: keys.billing, body: {} }),
      404,
      'not_found',
    )
    await fails(
      call('PATCH', '/v1/price-book/resellers/nope', { key: keys.billing, body: {} }),
      400,
      'bad_request',
    )
    const e = await fails(
      call('PATCH', `/v1/price-book/resellers/${gamma.account_id}`, {
        key: keys.billing,
        body: { tax_rate: '1.5' },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(['tax_rate'])
  })
})

/** Starts a run through the API and waits for the billing worker to settle it. */
async function runViaApi(body: { period: string; source_id?: string }): Promise<{ queued: Run; done: Run }> {
  const queued = (await ok<Data<Run>>(call('POST', '/v1/invoice-runs', { key: keys.billing, body }), 202))
    .data
  const done = await eventually(async () => {
    const run = (await ok<Data<Run>>(call('GET', `/v1/invoice-runs/${queued.id}`, { key: keys.viewer }))).data
    return run.status === 'succeeded' || run.status === 'failed' ? run : undefined
  }, 30_000)
  return { queued, done }
}

describe('invoice runs and invoices', () => {
  const inv = { alpha: '', beta: '', gamma: '' }
  const invoicesOf = async (q: string) =>
    (await ok<List<Invoice>>(call('GET', `/v1/invoices?${q}`, { key: keys.viewer }))).data

  it('POST /v1/invoice-runs queues a run that the billing worker completes', async () => {
    const one = await runViaApi({ period: '2026-11', source_id: alpha.id })
    expect(one.queued).toMatchObject({ period: '2026-11', source_id: alpha.id, dry_run: false })
    expect(['queued', 'running', 'succeeded']).toContain(one.queued.status)
    expect(one.done).toMatchObject({ status: 'succeeded', error: null })
    expect(one.done.report.errors).toEqual([])
    expect(one.done.report.invoices).toHaveLength(1)
    inv.alpha = one.done.report.invoices[0]?.invoice_id as string

    // Every reseller: beta and gamma get their invoices; alpha's stays the one draft.
    const all = await runViaApi({ period: '2026-11' })
    expect(all.done).toMatchObject({ status: 'succeeded', source_id: null })
    const [betaInv] = await invoicesOf(`source_id=${beta.id}`)
    const [gammaInv] = await invoicesOf(`source_id=${gamma.id}`)
    inv.beta = betaInv?.id as string
    inv.gamma = gammaInv?.id as string
    expect((await invoicesOf(`source_id=${alpha.id}`)).map((i) => i.id)).toEqual([inv.alpha])
  })

  it('POST /v1/invoice-runs refuses a bad period (400) and an unknown source (404)', async () => {
    const e = await fails(
      call('POST', '/v1/invoice-runs', { key: keys.billing, body: { period: '2026-13', source_id: 'x' } }),
      400,
      'bad_request',
    )
    expect(detailPaths(e).sort()).toEqual(['period', 'source_id'])
    await fails(
      call('POST', '/v1/invoice-runs', {
        key: keys.billing,
        body: { period: '2026-11', source_id: MISSING },
      }),
      404,
      'not_found',
    )
    await fails(call('GET', '/v1/invoice-runs/nope'), 400, 'bad_request')
    await fails(call('GET', `/v1/invoice-runs/${MISSING}`), 404, 'not_found')
  })

  it('GET /v1/invoices/{id} answers the invoice with its lines, each with charge_type', async () => {
    const one = await ok<
      Data<
        Invoice & {
          tenant: { name: string }
          lines: Line[]
          groups: { reseller: { name: string } | null; customer: { name: string } }[]
        }
      >
    >(call('GET', `/v1/invoices/${inv.alpha}`, { key: keys.viewer }))
    expect(one.data).toMatchObject({
      id: inv.alpha,
      tenant_id: alpha.account_id,
      tenant: { name: 'Alpha Resell' },
      period: '2026-11',
      currency: 'EUR',
      status: 'draft',
      number: null,
    })
    expect(one.data.lines.length).toBeGreaterThan(0)
    expect(one.data.lines.every((l) => typeof l.charge_type === 'string')).toBe(true)
    expect(
      one.data.lines.filter((l) => l.subscription_external_id === 'sub-1').map((l) => l.charge_type),
    ).toContain('new')
    expect(one.data.groups.find((g) => g.customer.name === 'Acme Ltd')?.reseller?.name).toBe(
      'Alpha Sub-reseller',
    )
    await fails(call('GET', '/v1/invoices/not-a-uuid'), 400, 'bad_request')
    await fails(call('GET', `/v1/invoices/${MISSING}`), 404, 'not_found')
  })

  it('finalize numbers a draft; a second finalize is 409 invoice_not_draft', async () => {
    const fin = await ok<Data<Invoice>>(
      call('POST', `/v1/invoices/${inv.alpha}/finalize`, { key: keys.billing }),
    )
    expect(fin.data).toMatchObject({ id: inv.alpha, status: 'finalized' })
    expect(fin.data.number).toMatch(/\d/)
    await fails(
      call('POST', `/v1/invoices/${inv.alpha}/finalize`, { key: keys.billing }),
      409,
      'invoice_not_draft',
    )
    await fails(call('POST', '/v1/invoices/nope/finalize', { key: keys.billing }), 400, 'bad_request')
    await fails(call('POST', `/v1/invoices/${MISSING}/finalize`, { key: keys.billing }), 404, 'not_found')
  })

  it('void voids an invoice once; it can then not be finalized', async () => {
    const voided = await ok<Data<Invoice>>(
      call('POST', `/v1/invoices/${inv.beta}/void`, { key: keys.billing }),
    )
    expect(voided.data).toMatchObject({ id: inv.beta, status: 'void' })
    await fails(
      call('POST', `/v1/invoices/${inv.beta}/void`, { key: keys.billing }),
      409,
      'invoice_not_draft',
    )
    await fails(
      call('POST', `/v1/invoices/${inv.beta}/finalize`, { key: keys.billing }),
      409,
      'invoice_not_draft',
    )
    await fails(call('POST', '/v1/invoices/nope/void', { key: keys.billing }), 400, 'bad_request')
    await fails(call('POST', `/v1/invoices/${MISSING}/void`, { key: keys.billing }), 404, 'not_found')
  })

  it('GET /v1/invoices filters by source_id, period and status, and pages with next_cursor', async () => {
    const ids = async (q: string) => (await invoicesOf(q)).map((i) => i.id)
    expect(await ids(`source_id=${alpha.id}&status=finalized`)).toEqual([inv.alpha])
    expect(await ids(`source_id=${beta.id}&status=void`)).toEqual([inv.beta])
    expect(await ids(`source_id=${gamma.id}&period=2026-11&status=draft`)).toEqual([inv.gamma])
    expect(await ids(`source_id=${gamma.id}&period=2026-10`)).toEqual([])
    const paged = await allPages('/v1/invoices?period=2026-11&limit=1')
    expect(paged.ids.sort()).toEqual([inv.alpha, inv.beta, inv.gamma].sort())
    expect(paged.pages).toBe(3)
    const e = await fails(call('GET', '/v1/invoices?period=Nov&status=paid'), 400, 'bad_request')
    expect(detailPaths(e).sort()).toEqual(['period', 'status'])
    await fails(call('GET', '/v1/invoices?cursor=garbage'), 400, 'bad_request')
  })

  it('exports CSV for any invoice and PDF for a finalized one', async () => {
    const csv = await call('GET', `/v1/invoices/${inv.gamma}.csv`, { key: keys.viewer })
    expect(csv.status).toBe(200)
    expect(csv.headers.get('content-type')).toContain('text/csv')
    const [header, ...rows] = (await csv.text()).trim().split('\n')
    expect(header?.split(',').slice(0, 3)).toEqual(['SubscriptionId', 'ReferenceId', 'ChargeType'])
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.every((r) => r.startsWith('sub-1,'))).toBe(true)

    const pdf = await call('GET', `/v1/invoices/${inv.alpha}.pdf`, { key: keys.viewer })
    expect(pdf.status).toBe(200)
    expect(pdf.headers.get('content-type')).toBe('application/pdf')
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-')
    await fails(call('GET', `/v1/invoices/${inv.gamma}.pdf`), 409, 'invoice_not_finalized')
    await fails(call('GET', `/v1/invoices/${MISSING}.csv`), 404, 'not_found')
    await fails(call('GET', `/v1/invoices/${MISSING}.pdf`), 404, 'not_found')
    await fails(call('GET', '/v1/invoices/not-a-uuid.csv'), 400, 'bad_request')
  })

  it('credit notes: credit a line of a finalized invoice, never more than the line', async () => {
    const lines = (await ok<Data<{ lines: Line[] }>>(call('GET', `/v1/invoices/${inv.alpha}`))).data.lines
    const line = lines.find((l) => Number(l.amount) > 1) as Line
    expect(line).toBeDefined()
    const note = await ok<Data<{ number: string; invoice_id: string; total: string; lines: unknown[] }>>(
      call('POST', `/v1/invoices/${inv.alpha}/credit-notes`, {
        key: keys.billing,
        body: { reason: 'goodwill', lines: [{ line_id: line.id, amount: '1.00' }] },
      }),
      201,
    )
    expect(note.data).toMatchObject({
      invoice_id: inv.alpha,
      total: '1.00',
      lines: [{ invoice_line_id: line.id, amount: '1.00' }],
    })
    // What is left of the line, plus a cent: over the line once the first credit counts.
    const rest = (Math.round(Number(line.amount) * 100) - 100 + 1) / 100
    await fails(
      call('POST', `/v1/invoices/${inv.alpha}/credit-notes`, {
        key: keys.billing,
        body: { lines: [{ line_id: line.id, amount: rest.toFixed(2) }] },
      }),
      422,
      'credit_exceeds_line',
    )
    const list = await ok<List<{ number: string }>>(
      call('GET', `/v1/invoices/${inv.alpha}/credit-notes`, { key: keys.viewer }),
    )
    expect(list.data.map((n) => n.number)).toEqual([note.data.number])
  })

  it('credit notes: 400 for bad lines, 409 on a draft, 404 for an unknown invoice', async () => {
    const e = await fails(
      call('POST', `/v1/invoices/${inv.alpha}/credit-notes`, {
        key: keys.billing,
        body: { lines: [{ line_id: '999999999', amount: '1.00' }] },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(['lines.0.line_id'])
    const empty = await fails(
      call('POST', `/v1/invoices/${inv.alpha}/credit-notes`, { key: keys.billing, body: { lines: [] } }),
      400,
      'bad_request',
    )
    expect(detailPaths(empty)).toEqual(['lines'])
    await fails(
      call('POST', `/v1/invoices/${inv.gamma}/credit-notes`, {
        key: keys.billing,
        body: { lines: [{ line_id: '1', amount: '1.00' }] },
      }),
      409,
      'invoice_not_finalized',
    )
    await fails(
      call('POST', `/v1/invoices/${MISSING}/credit-notes`, {
        key: keys.billing,
        body: { lines: [{ line_id: '1', amount: '1.00' }] },
      }),
      404,
      'not_found',
    )
    await fails(call('GET', '/v1/invoices/nope/credit-notes'), 400, 'bad_request')
  })
})

describe('routing', () => {
  it('an unknown route is 404 not_found', async () => {
    await fails(call('GET', '/v1/nothing-here'), 404, 'not_found')
    await fails(call('GET', '/v1/nothing-here', { key: null }), 404, 'not_found')
    await fails(call('GET', `/v1/accounts/${acme.id}/nothing`), 404, 'not_found')
  })

  it('a known path with a method it does not serve is 405 method_not_allowed', async () => {
    await fails(call('DELETE', `/v1/accounts/${acme.id}`), 405, 'method_not_allowed')
    await fails(call('PUT', '/v1/invoices'), 405, 'method_not_allowed')
    await fails(call('DELETE', '/v1/price-book/settings'), 405, 'method_not_allowed')
    await fails(call('PATCH', '/v1/api-keys'), 405, 'method_not_allowed')
  })
})

/** Defects found while writing this file, fixed since: kept as regressions. */
describe('fixed defects', () => {
  const craftedCursor = Buffer.from(JSON.stringify({ id: 'nope' })).toString('base64url')

  // src/routes/pagination.ts accepts any string id; listEvents compares it with the bigint id: 500.
  it('GET /v1/events with a well-formed cursor holding a non-numeric id is 400, not 500', async () => {
    await fails(call('GET', `/v1/events?cursor=${craftedCursor}`), 400, 'bad_request')
  })

  // addOverride inserts straight away: the foreign key violation (23503) surfaces as 500.
  it('POST /v1/price-book/overrides for an unknown tenant is 404, not 500', async () => {
    await fails(
      call('POST', '/v1/price-book/overrides', {
        key: keys.billing,
        body: {
          tenant_id: MISSING,
          sku: 'M365',
          billing_cycle: 'monthly',
          currency: 'EUR',
          unit_price: '1',
          effective_from: '2026-01-01',
        },
      }),
      404,
      'not_found',
    )
  })

  // listCreditNotes never checks the invoice exists; every other sub-collection answers 404.
  it('GET /v1/invoices/{id}/credit-notes of an unknown invoice is 404, not 200 []', async () => {
    await fails(call('GET', `/v1/invoices/${MISSING}/credit-notes`), 404, 'not_found')
  })

  // The price book's Fraction accepts 1; the column's check is tax_rate < 1 (23514): 500.
  it('PATCH /v1/price-book/resellers/{id} with tax_rate "1" is 400, not 500', async () => {
    const e = await fails(
      call('PATCH', `/v1/price-book/resellers/${gamma.account_id}`, {
        key: keys.billing,
        body: { tax_rate: '1' },
      }),
      400,
      'bad_request',
    )
    expect(detailPaths(e)).toEqual(['tax_rate'])
  })

  // z.iso.date() accepts year 0000, which Postgres' date type refuses (22008): 500.
  it('POST /v1/price-book/prices with effective_from 0000-01-01 is 400, not 500', async () => {
    await fails(
      call('POST', '/v1/price-book/prices', {
        key: keys.billing,
        body: {
          sku: 'Y0',
          billing_cycle: 'monthly',
          currency: 'EUR',
          unit_price: '1',
          effective_from: '0000-01-01',
        },
      }),
      400,
      'bad_request',
    )
  })

  // Postgres text cannot hold U+0000 (22P05 / 22021); no schema refuses it first: 500.
  for (const [method, path, body] of [
    ['PATCH', '/v1/accounts/{bolt}', { notes: 'a\u0000b' }],
    ['POST', '/v1/accounts/{bolt}/contacts', { name: 'a\u0000b' }],
    ['GET', '/v1/accounts?q=a%00b', undefined],
    ['GET', '/v1/subscriptions?external_id=a%00b', undefined],
    ['GET', '/v1/events?type=a%00b', undefined],
    ['GET', '/v1/price-book/prices?sku=a%00b', undefined],
  ] as const) {
    it(`${method} ${path} with a NUL character is 400, not 500`, async () => {
      await fails(call(method, path.replace('{bolt}', bolt.id), { body }), 400, 'bad_request')
    })
  }

  // RFC 9110 §15.5.6: a 405 MUST carry Allow; the app's onMethodNotAllowed drops the methods hono passes.
  it('405 method_not_allowed carries an Allow header', async () => {
    const res = await call('DELETE', `/v1/accounts/${acme.id}`)
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toMatch(/GET/)
  })

  // RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate (RFC 6750: `Bearer`).
  it('401 unauthorized carries WWW-Authenticate: Bearer', async () => {
    const res = await call('GET', '/v1/accounts', { key: null })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
  })
})
