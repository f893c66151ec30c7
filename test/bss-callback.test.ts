import { readFileSync } from 'node:fs'
import type { Job } from 'bullmq'
import { describe, expect, it } from 'vitest'
import { processJob } from '../src/queue/worker.js'
import { fetchForEvents } from '../src/sync/fetch.js'
import { handleEvents } from '../src/sync/handler.js'
import { bearer, createSourceViaApi, createTestApp, signedHeaders, silentLog } from './helpers/app.js'
import { startFakeBss } from './helpers/fake-bss.js'
import { account, sender, settled, subscription } from './helpers/reseller.js'
import { eventually, startTestReconcileWorker, startTestWorker, testBssClient } from './helpers/worker.js'

// Thin notifications and reconciliation against a real local HTTP server playing the reseller's
// BSS: tiersync fetches state with the source's credentials, retries 5xx and 429, never loses
// the received event while the BSS is down, and repairs drift a missed webhook left.
const t = await createTestApp()
const bssServer = await startFakeBss()
const client = testBssClient()
startTestWorker(t, handleEvents, { bss: client })
startTestReconcileWorker(t, client)
const admin = { ...bearer(t.adminKey), 'content-type': 'application/json' }

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/partner-center/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >

const CUSTOMER = 'c0ffee00-0000-4000-8000-000000000001'
const notification = (sub: string, customer = CUSTOMER) =>
  JSON.stringify({
    EventName: 'subscription-updated',
    ResourceUri: `https://api.partnercenter.microsoft.com/webhooks/v1/customers/${customer}/subscriptions/${sub}`,
    ResourceName: 'subscription',
    AuditUri: 'https://api.partnercenter.microsoft.com/v1/auditrecords/a-1',
    ResourceChangeUtcDate: '2026-11-20T10:00:00Z',
  })

const pc = await createSourceViaApi(t, {
  format: 'partner-center',
  api: { base_url: `${bssServer.baseUrl}/pc`, credentials: { type: 'bearer', token: 'pc-token-1' } },
})
bssServer.on(`/pc/v1/customers/${CUSTOMER}`, {
  json: { ...fixture('customer.json'), id: CUSTOMER },
})

async function deliver(body: string) {
  const res = await t.app.request(`/v1/webhooks/${pc.id}`, {
    method: 'POST',
    headers: signedHeaders(pc.secret, body),
    body,
  })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

async function inboxRow(id: string) {
  const [row] = await t.db.sql<
    { status: string; error: string | null; fetched: unknown; attempts: number }[]
  >`
    select status, error, fetched, attempts from inbox where id = ${id}`
  return row
}

describe('partner-center thin notifications', () => {
  it('fetches the subscription and its customer with the source credentials, after a 500', async () => {
    const sub = 'sub-pc-1'
    bssServer.on(
      `/pc/v1/customers/${CUSTOMER}/subscriptions/${sub}`,
      { status: 500, json: { error: 'boom' } },
      {
        json: { ...fixture('subscription.json'), id: sub, quantity: 12 },
      },
    )
    const id = await deliver(notification(sub))
    await settled(t)
    expect((await inboxRow(id))?.status).toBe('applied')
    const [row] = await t.db.sql<{ quantity: number; sku: string; status: string }[]>`
      select quantity, sku, status from subscriptions where source_id = ${pc.id} and external_id = ${sub}`
    expect(row?.quantity).toBe(12)
    expect(row?.sku).toBe(fixture('subscription.json').offerId)
    const seen = bssServer.requests.filter((r) => r.path.endsWith(`/subscriptions/${sub}`))
    expect(seen.length).toBe(2)
    expect(seen.every((r) => r.headers.authorization === 'Bearer pc-token-1')).toBe(true)
  })

  it('honours 429 with Retry-After', async () => {
    const sub = 'sub-pc-2'
    bssServer.on(
      `/pc/v1/customers/${CUSTOMER}/subscriptions/${sub}`,
      { status: 429, headers: { 'retry-after': '1' }, json: {} },
      { json: { ...fixture('subscription.json'), id: sub } },
    )
    const id = await deliver(notification(sub))
    await settled(t)
    expect((await inboxRow(id))?.status).toBe('applied')
    const retried = bssServer.requests.filter((r) => r.path.endsWith(`/subscriptions/${sub}`))
    expect(retried.length).toBe(2)
  })

  it('a 404 from the BSS fails the event with the reason; a replay reads the BSS anew', async () => {
    const sub = 'sub-pc-late'
    const id = await deliver(notification(sub))
    await settled(t)
    const row = await inboxRow(id)
    expect(row?.status).toBe('failed')
    expect(row?.error).toContain('the BSS refused GET')

    bssServer.on(`/pc/v1/customers/${CUSTOMER}/subscriptions/${sub}`, {
      json: { ...fixture('subscription.json'), id: sub, quantity: 4 },
    })
    const replay = await t.app.request(`/v1/events/${id}/replay`, { method: 'POST', headers: admin })
    expect(replay.status).toBe(202)
    await settled(t)
    expect((await inboxRow(id))?.status).toBe('applied')
  })

  it('while the BSS times out the event is never failed, whatever the attempt count', async () => {
    const sub = 'sub-pc-slow'
    const path = `/pc/v1/customers/${CUSTOMER}/subscriptions/${sub}`
    bssServer.on(path, () => {
      // never answers: the client's timeout ends each attempt
    })
    const body = notification(sub)
    const [row] = await t.db.sql<{ id: string }[]>`
      insert into inbox (source_id, webhook_id, event_type, body) values (${pc.id}, 'slow-1', 'subscription-updated', ${body})
      returning id::text`
    const inboxId = (row as { id: string }).id
    // The job's last attempt, as BullMQ would run it: it must not end the event.
    const lastAttempt = {
      data: { inboxIds: [inboxId] },
      attemptsMade: 7,
      opts: { attempts: 8 },
    } as unknown as Job
    const deps = {
      sql: t.db.sql,
      handle: handleEvents,
      enqueue: () => {},
      prepare: (ids: string[]) =>
        fetchForEvents(
          { sql: t.db.sql, box: t.deps.box, client, log: silentLog, now: () => new Date() },
          ids,
        ),
    }
    await expect(processJob(deps, lastAttempt)).rejects.toThrow(/BSS unavailable/)
    const stuck = await inboxRow(inboxId)
    expect(stuck?.status).toBe('processing') // unsettled: the relay queues it again
    expect(stuck?.error).toMatch(/BSS unavailable/)

    // The BSS recovers: the next attempt (the relay's, in production) applies it.
    bssServer.on(path, { json: { ...fixture('subscription.json'), id: sub, quantity: 3 } })
    expect(await processJob(deps, lastAttempt)).toEqual({ applied: 1 })
    expect((await inboxRow(inboxId))?.fetched).toMatchObject({ subscription: { id: sub, quantity: 3 } })
  })
})

describe('cloudblue-connect thin notifications', () => {
  it('fetch the request by id from the Connect API and map it; the same body twice is fetched twice', async () => {
    const connectFixture = (name: string) =>
      JSON.parse(readFileSync(new URL(`./fixtures/cloudblue-connect/${name}`, import.meta.url), 'utf8'))
    const source = await createSourceViaApi(t, {
      format: 'cloudblue-connect',
      api: {
        base_url: `${bssServer.baseUrl}/connect`,
        credentials: { type: 'bearer', token: 'ApiKey SU-1' },
      },
    })
    const change = connectFixture('change-request.json')
    const path = `/connect/public/v1/requests/${change.id}`
    bssServer.on(path, { json: change })
    const body = JSON.stringify(connectFixture('notification.json'))
    for (let i = 0; i < 2; i++) {
      const res = await t.app.request(`/v1/webhooks/${source.id}`, {
        method: 'POST',
        headers: signedHeaders(source.secret, body, { id: `connect-${i}` }),
        body,
      })
      expect(res.status).toBe(202)
    }
    await settled(t)
    expect(bssServer.hitsOf(path)).toBe(2)
    const subs = await t.db.sql<{ external_id: string; quantity: number; sku: string }[]>`
      select external_id, quantity, sku from subscriptions where source_id = ${source.id}`
    expect(subs).toEqual([
      { external_id: `${change.asset.id}:PRD-276-377-545-0001`, quantity: 12, sku: 'CFQ7TTC0LDPB:0001' },
    ])
  })

  it('a thin notification to a source without an API is refused before it is acknowledged', async () => {
    const source = await createSourceViaApi(t, { format: 'cloudblue-connect' })
    const body = JSON.stringify({ id: 'PR-5852-1608-0001' })
    const res = await t.app.request(`/v1/webhooks/${source.id}`, {
      method: 'POST',
      headers: signedHeaders(source.secret, body),
      body,
    })
    expect(res.status).toBe(422)
  })
})

describe('reconciliation', () => {
  it('repairs drift from a missed webhook and records it with its own event kind', async () => {
    const source = await createSourceViaApi(t, {
      api: {
        base_url: `${bssServer.baseUrl}/hg`,
        credentials: { type: 'header', name: 'x-api-key', value: 'k-1' },
      },
    })
    const bss = sender(t, source)
    const cust = account('cust-r', { name: 'Recon Customer' }, { seq: 1 })
    const sub1 = subscription('sub-r1', 'cust-r', { quantity: 5 }, { seq: 1 })
    for (const e of [cust, sub1]) expect((await bss.send(e)).status).toBe(202)
    await settled(t)

    // In the BSS: sub-r1 went to 7 and sub-r2 was created, but neither webhook ever arrived.
    const sub2 = subscription('sub-r2', 'cust-r', { quantity: 2 })
    bssServer.on('/hg/accounts', { json: { data: [cust.data] } })
    bssServer.on('/hg/subscriptions', { json: { data: [{ ...sub1.data, quantity: 7 }], next_cursor: 'p2' } })
    bssServer.on('/hg/subscriptions?cursor=p2', { json: { data: [sub2.data] } })

    const res = await t.app.request(`/v1/sources/${source.id}/reconcile`, { method: 'POST', headers: admin })
    expect(res.status).toBe(202)
    const report = await eventually(async () => {
      const [s] = await t.db.sql<{ reconcile_report: Record<string, unknown> | null }[]>`
        select reconcile_report from sources where id = ${source.id}`
      return s?.reconcile_report ?? undefined
    })
    expect(report.drifted).toEqual([
      { kind: 'subscription', id: 'sub-r1' },
      { kind: 'subscription', id: 'sub-r2' },
    ])
    await settled(t)
    const subs = await t.db.sql<{ external_id: string; quantity: number }[]>`
      select external_id, quantity from subscriptions where source_id = ${source.id} order by external_id`
    expect(subs).toEqual([
      { external_id: 'sub-r1', quantity: 7 },
      { external_id: 'sub-r2', quantity: 2 },
    ])
    const history = await t.db.sql<{ event_type: string; quantity: number }[]>`
      select v.event_type, (v.state->>'quantity')::int as quantity from subscription_versions v
      join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id} and s.external_id = 'sub-r1' order by v.id`
    expect(history).toEqual([
      { event_type: 'subscription.created', quantity: 5 },
      { event_type: 'subscription.reconciled', quantity: 7 },
    ])
    expect(bssServer.requests.find((r) => r.path === '/hg/accounts')?.headers['x-api-key']).toBe('k-1')

    // Nothing drifted any more: a second reconciliation changes nothing.
    await t.db.sql`update sources set reconcile_report = null where id = ${source.id}`
    await t.app.request(`/v1/sources/${source.id}/reconcile`, { method: 'POST', headers: admin })
    const again = await eventually(async () => {
      const [s] = await t.db.sql<{ reconcile_report: Record<string, unknown> | null }[]>`
        select reconcile_report from sources where id = ${source.id}`
      return s?.reconcile_report ?? undefined
    })
    expect(again.drifted).toEqual([])
    expect(again.subscriptions_seen).toBe(2)
  })

  it('pulls Partner Center customers and their subscriptions page by page', async () => {
    const source = await createSourceViaApi(t, {
      format: 'partner-center',
      api: { base_url: `${bssServer.baseUrl}/pcr`, credentials: { type: 'bearer', token: 't' } },
    })
    const c1 = 'c0ffee00-0000-4000-8000-0000000000a1'
    bssServer.on('/pcr/v1/customers', {
      json: { items: [{ id: c1 }], links: { next: { uri: '/customers?seekOperation=Next&page=2' } } },
    })
    bssServer.on('/pcr/v1/customers?seekOperation=Next&page=2', { json: { items: [] } })
    bssServer.on(`/pcr/v1/customers/${c1}`, { json: { ...fixture('customer.json'), id: c1 } })
    bssServer.on(`/pcr/v1/customers/${c1}/subscriptions`, {
      json: {
        items: [
          { ...fixture('subscription.json'), id: 'pcr-1', quantity: 9 },
          { ...fixture('trial-subscription.json'), id: 'pcr-trial' },
        ],
      },
    })
    await t.db.sql`update sources set reconcile_report = null where id = ${source.id}`
    expect(
      (await t.app.request(`/v1/sources/${source.id}/reconcile`, { method: 'POST', headers: admin })).status,
    ).toBe(202)
    const report = await eventually(async () => {
      const [s] = await t.db.sql<{ reconcile_report: Record<string, unknown> | null }[]>`
        select reconcile_report from sources where id = ${source.id}`
      return s?.reconcile_report ?? undefined
    })
    expect(report.accounts_seen).toBe(1)
    expect(report.subscriptions_seen).toBe(2)
    expect(bssServer.hitsOf('/pcr/v1/customers')).toBe(2) // both pages
    await settled(t)
    const subs = await t.db.sql<{ external_id: string; quantity: number }[]>`
      select external_id, quantity from subscriptions where source_id = ${source.id}`
    expect(subs).toEqual([{ external_id: 'pcr-1', quantity: 9 }]) // the trial is not paid: not mirrored
  })

  it('runs on the schedule a source sets, kept in step with the source', async () => {
    const source = await createSourceViaApi(t, {
      api: { base_url: `${bssServer.baseUrl}/hg2`, credentials: { type: 'none' } },
      reconcile_every_minutes: 60,
    })
    const schedulers = async () =>
      (await t.deps.queues.reconcile.getJobSchedulers()).map((s) => [s.key, s.every])
    expect(await schedulers()).toContainEqual([`reconcile-${source.id}`, 3_600_000])
    const off = await t.app.request(`/v1/sources/${source.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ reconcile_every_minutes: null }),
    })
    expect(off.status).toBe(200)
    expect((await schedulers()).map(([key]) => key)).not.toContain(`reconcile-${source.id}`)
    // Removing the API while a schedule needs it leaves the source as it was.
    await t.app.request(`/v1/sources/${source.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ reconcile_every_minutes: 30 }),
    })
    const incoherent = await t.app.request(`/v1/sources/${source.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ api: null }),
    })
    expect(incoherent.status).toBe(422)
    expect(((await incoherent.json()) as { error: { code: string } }).error.code).toBe('invalid_settings')
  })

  it('needs an API, and a thin format cannot be created without one', async () => {
    const plain = await createSourceViaApi(t)
    const res = await t.app.request(`/v1/sources/${plain.id}/reconcile`, { method: 'POST', headers: admin })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_settings')
    const thin = await t.app.request('/v1/sources', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'pc', format: 'partner-center', reseller: { name: 'R' } }),
    })
    expect(thin.status).toBe(400)
  })
})
