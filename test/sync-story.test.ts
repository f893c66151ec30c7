import { describe, expect, it } from 'vitest'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'
import { account, sender, settled, statusOf, subscription } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

// The seed story, over HTTP into a running worker: Cloud Resell > Cloud Lite > X, Y; Z directly
// under Cloud Resell; paid subscriptions and add-ons, changes, and a trial that never appears.
const t = await createTestApp()
startTestWorker(t)
const source = await createSourceViaApi(t)
const bss = sender(t, source)
const get = async (path: string) => {
  const res = await t.app.request(path, { headers: bearer(t.adminKey) })
  expect(res.status, path).toBe(200)
  return ((await res.json()) as { data: Record<string, unknown> }).data
}

const M365 = { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' }
const TEAMS = { sku: 'CFQ7TTC0J1FV:0001', name: 'Teams Phone Standard' }

const results: Record<string, { status: number; id: string }> = {}
async function play() {
  const story: [string, Parameters<typeof bss.send>[0]][] = [
    [
      'lite',
      account(
        'lite-1',
        { type: 'reseller', name: 'Cloud Lite', number: 'L-2001', email: 'ops@cloudlite.example' },
        { seq: 1 },
      ),
    ],
    ['x', account('cust-x', { parent_id: 'lite-1', name: 'Cloud Customer X' }, { seq: 1 })],
    ['y', account('cust-y', { parent_id: 'lite-1', name: 'Cloud Customer Y' }, { seq: 1 })],
    ['z', account('cust-z', { parent_id: null, name: 'Cloud End-Customer Z' }, { seq: 1 })],
    ['x1', subscription('sub-x1', 'cust-x', { product: M365, quantity: 10 }, { seq: 1 })],
    [
      'x1-addon',
      subscription(
        'addon-x1',
        'cust-x',
        { product: TEAMS, quantity: 10, parent_subscription_id: 'sub-x1' },
        { seq: 1 },
      ),
    ],
    ['y1', subscription('sub-y1', 'cust-y', { quantity: 3 }, { seq: 1 })],
    ['z1', subscription('sub-z1', 'cust-z', { quantity: 25, billing_cycle: 'annual' }, { seq: 1 })],
    [
      'z-trial',
      subscription('sub-z-trial', 'cust-z', { paid: false, status: 'active', quantity: 25 }, { seq: 1 }),
    ],
    [
      'x1-qty',
      subscription(
        'sub-x1',
        'cust-x',
        { product: M365, quantity: 15 },
        { seq: 2, type: 'subscription.updated', at: '2026-11-10T08:00:00Z' },
      ),
    ],
    [
      'y1-suspend',
      subscription(
        'sub-y1',
        'cust-y',
        { quantity: 3, status: 'suspended' },
        { seq: 2, type: 'subscription.suspended', at: '2026-11-12T08:00:00Z' },
      ),
    ],
    [
      'y1-resume',
      subscription(
        'sub-y1',
        'cust-y',
        { quantity: 3, status: 'active' },
        { seq: 3, type: 'subscription.resumed', at: '2026-11-14T08:00:00Z' },
      ),
    ],
    [
      'z1-cancel',
      subscription(
        'sub-z1',
        'cust-z',
        { quantity: 25, billing_cycle: 'annual', status: 'cancelled', auto_renew: false },
        { seq: 2, type: 'subscription.cancelled', at: '2026-11-15T08:00:00Z' },
      ),
    ],
    [
      'x1-renew',
      subscription(
        'sub-x1',
        'cust-x',
        { product: M365, quantity: 15, end_date: '2028-10-31' },
        { seq: 3, type: 'subscription.renewed', at: '2026-11-20T08:00:00Z' },
      ),
    ],
  ]
  for (const [name, event] of story) results[name] = await bss.send(event)
  await settled(t)
}
await play()

describe('the seed story', () => {
  it('acknowledges every delivery and settles each as expected', async () => {
    for (const r of Object.values(results)) expect(r.status).toBe(202)
    expect(await statusOf(t, results['z-trial']?.id as string)).toBe('ignored_unpaid')
    // The worker runs events concurrently: a change may be applied after a newer one, which
    // then leaves it `stale` (recorded in the history, not in the current state).
    for (const [name, r] of Object.entries(results)) {
      if (name !== 'z-trial') expect(['applied', 'stale'], name).toContain(await statusOf(t, r.id))
    }
    for (const first of ['lite', 'x', 'y', 'z', 'x1-addon']) {
      expect(await statusOf(t, results[first]?.id as string), first).toBe('applied')
    }
  })

  it('builds the hierarchy: Cloud Resell > Cloud Lite > X, Y; Z directly under Cloud Resell', async () => {
    type Node = {
      name: string
      type: string
      external_id: string | null
      subscriptions: number
      children: Node[]
    }
    const tree = (await get(`/v1/accounts/${source.account_id}/tree`)) as unknown as Node
    const shape = (n: Node): unknown => ({
      name: n.name,
      subs: n.subscriptions,
      children: n.children.map(shape),
    })
    expect(shape(tree)).toEqual({
      name: 'Cloud Resell',
      subs: 0,
      children: [
        {
          name: 'Cloud Lite',
          subs: 0,
          children: [
            { name: 'Cloud Customer X', subs: 2, children: [] },
            { name: 'Cloud Customer Y', subs: 1, children: [] },
          ],
        },
        { name: 'Cloud End-Customer Z', subs: 1, children: [] },
      ],
    })
    expect(tree.children.map((c) => c.type)).toEqual(['reseller', 'customer'])
  })

  it('mirrors every field of a subscription, and the add-on under its parent', async () => {
    const [x1] = await t.db.sql`select * from subscriptions where external_id = 'sub-x1'`
    const [cx] = await t.db.sql`select id, tenant_id from accounts where external_id = 'cust-x'`
    expect(x1).toMatchObject({
      source_id: source.id,
      tenant_id: source.account_id,
      account_id: cx?.id,
      parent_subscription_id: null,
      sku: 'CFQ7TTC0LFLX:0001',
      product_name: 'Microsoft 365 Business Standard',
      status: 'active',
      raw_status: 'active',
      quantity: 15,
      billing_cycle: 'monthly',
      term: 'P1Y',
      auto_renew: true,
      characteristics: [{ code: 'domain', name: 'Tenant domain', value: 'sub-x1.onmicrosoft.com' }],
      version_sequence: '3',
    })
    expect(cx?.tenant_id).toBe(source.account_id)
    const sub = await get(`/v1/subscriptions/${x1?.id}`)
    expect(sub).toMatchObject({
      start_date: '2026-11-01',
      end_date: '2028-10-31',
      activation_date: '2026-11-01',
    })
    const [addon] = await t.db
      .sql`select parent_subscription_id, sku, quantity from subscriptions where external_id = 'addon-x1'`
    expect(addon).toEqual({ parent_subscription_id: x1?.id, sku: 'CFQ7TTC0J1FV:0001', quantity: 10 })
  })

  it('keeps the history of each change with before and after', async () => {
    const [x1] = await t.db.sql`select id from subscriptions where external_id = 'sub-x1'`
    const sub = (await get(`/v1/subscriptions/${x1?.id}`)) as {
      history: {
        event_type: string
        effective_date: string
        changes: Record<string, { before: unknown; after: unknown }>
      }[]
    }
    expect(sub.history.map((h) => [h.event_type, h.effective_date])).toEqual([
      ['subscription.created', '2026-11-01'],
      ['subscription.updated', '2026-11-10'],
      ['subscription.renewed', '2026-11-20'],
    ])
    expect(sub.history[1]?.changes).toEqual({ quantity: { before: 10, after: 15 } })
    expect(sub.history[2]?.changes).toEqual({ end_date: { before: '2027-10-31', after: '2028-10-31' } })
    expect(sub.history[0]?.changes.quantity).toEqual({ before: null, after: 10 })

    const [y1] = await t.db.sql`select id, status from subscriptions where external_id = 'sub-y1'`
    expect(y1?.status).toBe('active')
    const y = (await get(`/v1/subscriptions/${y1?.id}`)) as {
      history: { changes: Record<string, { before: unknown; after: unknown }> }[]
    }
    expect(y.history.slice(1).map((h) => h.changes.status)).toEqual([
      { before: 'active', after: 'suspended' },
      { before: 'suspended', after: 'active' },
    ])
    const [z1] = await t.db.sql`select status, auto_renew from subscriptions where external_id = 'sub-z1'`
    expect(z1).toEqual({ status: 'cancelled', auto_renew: false })
  })

  it('never creates the free trial', async () => {
    const trial = await t.db.sql`select id from subscriptions where external_id = 'sub-z-trial'`
    expect(trial).toHaveLength(0)
    const list = await t.app.request(`/v1/subscriptions?source_id=${source.id}`, {
      headers: bearer(t.adminKey),
    })
    const body = (await list.json()) as { data: { external_id: string }[] }
    expect(body.data.map((s) => s.external_id).sort()).toEqual(['addon-x1', 'sub-x1', 'sub-y1', 'sub-z1'])
  })

  it('finds accounts by name, number, email and external id', async () => {
    for (const q of ['Lite', 'L-2001', 'ops@cloudlite', 'lite-1']) {
      const res = await t.app.request(`/v1/accounts?q=${encodeURIComponent(q)}`, {
        headers: bearer(t.adminKey),
      })
      const body = (await res.json()) as { data: { name: string }[] }
      expect(
        body.data.map((a) => a.name),
        q,
      ).toEqual(['Cloud Lite'])
    }
    const byExt = await t.app.request(`/v1/accounts?source_id=${source.id}&external_id=cust-z`, {
      headers: bearer(t.adminKey),
    })
    expect(((await byExt.json()) as { data: { name: string }[] }).data.map((a) => a.name)).toEqual([
      'Cloud End-Customer Z',
    ])
  })

  it('filters subscriptions and pages through them with a cursor', async () => {
    const q = async (s: string) => {
      const res = await t.app.request(`/v1/subscriptions?${s}`, { headers: bearer(t.adminKey) })
      return (await res.json()) as { data: { external_id: string }[]; next_cursor?: string }
    }
    expect((await q('status=cancelled')).data.map((s) => s.external_id)).toEqual(['sub-z1'])
    expect((await q('sku=CFQ7TTC0J1FV:0001')).data.map((s) => s.external_id)).toEqual(['addon-x1'])
    const first = await q(`source_id=${source.id}&limit=3`)
    expect(first.data).toHaveLength(3)
    const second = await q(`source_id=${source.id}&limit=3&cursor=${first.next_cursor}`)
    expect(second.data).toHaveLength(1)
    expect(second.next_cursor).toBeUndefined()
    expect(new Set([...first.data, ...second.data].map((s) => s.external_id)).size).toBe(4)
  })
})
