import { describe, expect, it } from 'vitest'
import { expireWaiting } from '../src/inbox/relay.js'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'
import { account, sender, settled, statusOf, subscription } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

const t = await createTestApp()
startTestWorker(t)
const source = await createSourceViaApi(t)
const bss = sender(t, source)
await bss.send(account('lite-1', { type: 'reseller', name: 'Cloud Lite' }))
await bss.send(account('cust-x', { parent_id: 'lite-1', name: 'Cloud Customer X' }))
await bss.send(subscription('sub-1', 'cust-x', { quantity: 10 }))
await settled(t)
const [custX] = await t.db.sql<{ id: string }[]>`select id from accounts where external_id = 'cust-x'`
const [sub1] = await t.db.sql<{ id: string }[]>`select id from subscriptions where external_id = 'sub-1'`
const custXId = custX?.id as string
const sub1Id = sub1?.id as string

async function errorOf(res: Response) {
  return ((await res.json()) as { error: { code: string; message: string; details?: { fields: string[] } } })
    .error
}

describe('synced fields are read-only', () => {
  it('the database refuses a plain UPDATE of a subscription', async () => {
    await expect(t.db.sql`update subscriptions set quantity = 999 where id = ${sub1Id}`).rejects.toThrow(
      /read-only/,
    )
    await expect(t.db.sql`delete from subscriptions where id = ${sub1Id}`).rejects.toThrow(/read-only/)
    await expect(t.db.sql`truncate subscriptions cascade`).rejects.toThrow(/cannot be truncated/)
    await expect(
      t.db
        .sql`insert into subscriptions (source_id, external_id, tenant_id, account_id, sku, status, raw_status, quantity,
        billing_cycle, auto_renew, version_key, version_occurred_at)
        values (${source.id}, 'forged', ${source.account_id}, ${custXId}, 'X', 'active', 'active', 1, 'monthly', false, 's:1', now())`,
    ).rejects.toThrow(/read-only/)
    await expect(t.db.sql`update subscription_versions set state = '{}'`).rejects.toThrow(/read-only/)
    const [row] = await t.db.sql`select quantity from subscriptions where id = ${sub1Id}`
    expect(row?.quantity).toBe(10)
  })

  it('no one deletes a subscription, not even the sync: its history refers to it', async () => {
    await expect(
      t.db.sql.begin(async (tx) => {
        await tx`select set_config('tiersync.writer', 'sync', true)`
        await tx`delete from subscriptions where id = ${sub1Id}`
      }),
    ).rejects.toThrow(/never deleted/)
    const [row] = await t.db
      .sql`select count(*)::int as n from subscription_versions where subscription_id = ${sub1Id}`
    expect(row?.n).toBe(1)
  })

  it('the database refuses synced account fields but allows distributor-owned ones', async () => {
    await expect(
      t.db.sql`update accounts set name = 'Renamed', email = 'x@y.z' where id = ${custXId}`,
    ).rejects.toThrow(/read-only: name, email/)
    await expect(t.db.sql`delete from accounts where id = ${custXId}`).rejects.toThrow(/never deleted/)
    await t.db.sql`update accounts set notes = 'key account', tags = '{vip}' where id = ${custXId}`
    const [row] = await t.db.sql`select name, notes, tags from accounts where id = ${custXId}`
    expect(row).toEqual({ name: 'Cloud Customer X', notes: 'key account', tags: ['vip'] })
  })

  it('even a transaction that pretends to be the sync is refused if it sets a foreign tenant', async () => {
    const other = await createSourceViaApi(t, { reseller: { name: 'Other Reseller' } })
    await expect(
      t.db.sql.begin(async (tx) => {
        await tx`select set_config('tiersync.writer', 'sync', true)`
        await tx`update accounts set parent_id = ${other.account_id} where id = ${custXId}`
      }),
    ).rejects.toThrow(/would leave its tenant reseller tree/)
  })

  it('PATCH /v1/accounts/{id} answers 409 field_locked naming the synced fields', async () => {
    const res = await t.app.request(`/v1/accounts/${custXId}`, {
      method: 'PATCH',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'X Renamed', billing_address: {}, parent: 'lite-2', notes: 'ok' }),
    })
    expect(res.status).toBe(409)
    const err = await errorOf(res)
    expect(err.code).toBe('field_locked')
    expect(err.details?.fields).toEqual(['name', 'billing_address', 'parent'])
    const [row] = await t.db.sql`select name from accounts where id = ${custXId}`
    expect(row?.name).toBe('Cloud Customer X')
  })

  it('PATCH changes distributor-owned fields, validates them, and needs the admin role', async () => {
    const patch = (body: unknown, key = t.adminKey) =>
      t.app.request(`/v1/accounts/${custXId}`, {
        method: 'PATCH',
        headers: { ...bearer(key), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const ok = await patch({
      notes: 'renewal call in March',
      tags: ['gold'],
      custom_attributes: { crm_id: 42 },
    })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { data: unknown }).data).toMatchObject({
      notes: 'renewal call in March',
      tags: ['gold'],
      custom_attributes: { crm_id: 42 },
      name: 'Cloud Customer X',
    })
    const bad = await patch({ tags: 'gold', colour: 'blue' })
    expect(bad.status).toBe(400)
    expect((await errorOf(bad)).code).toBe('bad_request')
    const viewer = await patch({ notes: 'x' }, await t.keyFor('viewer'))
    expect(viewer.status).toBe(403)
    const missing = await t.app.request('/v1/accounts/00000000-0000-4000-8000-000000000000', {
      method: 'PATCH',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({ notes: 'x' }),
    })
    expect(missing.status).toBe(404)
  })

  it('has no route that writes a subscription', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await t.app.request(`/v1/subscriptions/${sub1Id}`, {
        method,
        headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
        body: method === 'DELETE' ? undefined : JSON.stringify({ quantity: 1 }),
      })
      expect([404, 405]).toContain(res.status)
    }
  })
})

describe('tenant isolation', () => {
  it('a second source cannot touch the first source tree: same ids land in its own tree, or park', async () => {
    const other = await createSourceViaApi(t, { reseller: { name: 'Rival Reseller' } })
    const rival = sender(t, other)
    // Same external ids as the first source's objects: scoped by source, they never resolve there.
    const sub = await rival.send(subscription('sub-1', 'cust-x', { quantity: 1 }, { seq: 99 }))
    const acc = await rival.send(account('cust-y', { parent_id: 'lite-1', name: 'Stolen' }))
    await settled(t)
    expect(await statusOf(t, sub.id)).toBe('waiting')
    expect(await statusOf(t, acc.id)).toBe('waiting')
    const [mine] = await t.db.sql`select quantity, version_sequence from subscriptions where id = ${sub1Id}`
    expect(mine).toEqual({ quantity: 10, version_sequence: null })
    const tree = await t.db
      .sql`select name from accounts where tenant_id = ${source.account_id} order by name`
    expect(tree.map((r) => r.name)).toEqual(['Cloud Customer X', 'Cloud Lite'])
    // They never resolve: once the waiting limit passes they end failed, with the reason.
    await expireWaiting(t.db.sql, 0)
    expect([await statusOf(t, sub.id), await statusOf(t, acc.id)]).toEqual(['failed', 'failed'])
    const [reason] = await t.db.sql`select error from inbox where id = ${acc.id}`
    expect(reason?.error).toMatch(/account lite-1, which never arrived in this source's tree/)
  })

  it('an event that would cross into another tree ends failed with the reason, changing nothing', async () => {
    // Simulate a source re-pointed at another tenant reseller after objects were synced.
    const moved = await createSourceViaApi(t, { reseller: { name: 'Moved Reseller' } })
    const movedBss = sender(t, moved)
    await movedBss.send(account('m-1'))
    await settled(t)
    const other = await createSourceViaApi(t, { reseller: { name: 'Target Reseller' } })
    await t.db.sql`update sources set account_id = ${other.account_id} where id = ${moved.id}`
    const ev = await movedBss.send(account('m-1', { name: 'Changed' }, { seq: 2 }))
    await settled(t)
    expect(await statusOf(t, ev.id)).toBe('failed')
    const [row] = await t.db.sql`select error from inbox where id = ${ev.id}`
    expect(row?.error).toMatch(/another tenant reseller/)
    const [acc] = await t.db.sql`select name, tenant_id from accounts where source_id = ${moved.id}`
    expect(acc).toEqual({ name: 'Account m-1', tenant_id: moved.account_id })
  })
})
