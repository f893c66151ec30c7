import { describe, expect, it } from 'vitest'
import { insertBatch } from '../src/inbox/inbox-writer.js'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'
import { account, sender, settled, statusOf, subscription } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

const t = await createTestApp()
startTestWorker(t)
const source = await createSourceViaApi(t)
const bss = sender(t, source)
const json = { 'content-type': 'application/json' }

type EventBody = {
  id: string
  status: string
  error: string | null
  error_details: { path: string }[] | null
  payload?: unknown
}
const getEvent = async (id: string) =>
  (
    (await (await t.app.request(`/v1/events/${id}`, { headers: bearer(t.adminKey) })).json()) as {
      data: EventBody
    }
  ).data

describe('failures and replay', () => {
  it('an unmappable payload ends failed at once, with the reason and the failing paths', async () => {
    const bad = await bss.send(
      subscription('bad-1', 'acc-1', { quantity: -5, billing_cycle: 'weekly', product: {} }),
    )
    await settled(t)
    expect(await statusOf(t, bad.id)).toBe('failed')
    const event = await getEvent(bad.id)
    expect(event.error).toBe('subscription does not match the canonical format')
    expect(event.error_details?.map((d) => d.path).sort()).toEqual([
      'data.billing_cycle',
      'data.product.sku',
      'data.quantity',
    ])
    expect(event.payload).toMatchObject({ type: 'subscription.created', data: { id: 'bad-1' } })
    const [row] = await t.db.sql`select attempts from inbox where id = ${bad.id}`
    expect(row?.attempts).toBe(1)
  })

  it('a customer cannot be the parent of an account: failed, nothing created', async () => {
    await bss.send(account('cust-p'))
    await settled(t)
    const child = await bss.send(account('cust-c', { parent_id: 'cust-p' }))
    await settled(t)
    expect(await statusOf(t, child.id)).toBe('failed')
    expect(await t.db.sql`select 1 from accounts where external_id = 'cust-c'`).toHaveLength(0)
  })

  it('lists events by source, status and type, and by the object external id', async () => {
    const list = async (q: string) =>
      (
        (await (await t.app.request(`/v1/events?${q}`, { headers: bearer(t.adminKey) })).json()) as {
          data: { object_id: string; status: string; event_type: string }[]
        }
      ).data
    const failed = await list(`source_id=${source.id}&status=failed`)
    expect(failed.map((e) => e.object_id).sort()).toEqual(['bad-1', 'cust-c'])
    expect((await list('type=account.created&object_id=cust-p')).map((e) => e.status)).toEqual(['applied'])
    expect(await list('since=2999-01-01T00:00:00Z')).toEqual([])
    const bad = await t.app.request('/v1/events?status=exploded', { headers: bearer(t.adminKey) })
    expect(bad.status).toBe(400)
    const anon = await t.app.request('/v1/events')
    expect(anon.status).toBe(401)
  })

  it('replays one event after a fix: the missing parent now exists, so it applies', async () => {
    const orphan = await bss.send(account('kid-1', { parent_id: 'not-a-reseller' }))
    await bss.send(account('not-a-reseller'))
    await settled(t)
    // Fails: its parent is a customer. The BSS fixes the parent's type; then the operator replays.
    expect(await statusOf(t, orphan.id)).toBe('failed')
    await bss.send(
      account(
        'not-a-reseller',
        { type: 'reseller' },
        { type: 'account.updated', at: '2026-11-02T00:00:00Z' },
      ),
    )
    await settled(t)
    const viewer = await t.app.request(`/v1/events/${orphan.id}/replay`, {
      method: 'POST',
      headers: bearer(await t.keyFor('viewer')),
    })
    expect(viewer.status).toBe(403)
    const res = await t.app.request(`/v1/events/${orphan.id}/replay`, {
      method: 'POST',
      headers: bearer(t.adminKey),
    })
    expect(res.status).toBe(202)
    await settled(t)
    expect(await statusOf(t, orphan.id)).toBe('applied')
    const [row] = await t.db.sql`select generation, error from inbox where id = ${orphan.id}`
    // Queued anew by the replay (and maybe before, if it parked until its parent arrived).
    expect(row?.error).toBeNull()
    expect(row?.generation).toBeGreaterThanOrEqual(1)
  })

  it('replays every failed event of a source', async () => {
    const other = await createSourceViaApi(t)
    const otherBss = sender(t, other)
    const a = await otherBss.send(account('r-1', { parent_id: 'r-0' }))
    const b = await otherBss.send(account('r-2', { parent_id: 'r-0' }))
    await otherBss.send(account('r-0'))
    await settled(t)
    expect([await statusOf(t, a.id), await statusOf(t, b.id)]).toEqual(['failed', 'failed'])
    await otherBss.send(
      account('r-0', { type: 'reseller' }, { seq: 1, type: 'account.updated', at: '2026-11-05T00:00:00Z' }),
    )
    await settled(t)
    const res = await t.app.request('/v1/events/replay', {
      method: 'POST',
      headers: { ...bearer(t.adminKey), ...json },
      body: JSON.stringify({ source_id: other.id }),
    })
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ replayed: 2 })
    await settled(t)
    expect([await statusOf(t, a.id), await statusOf(t, b.id)]).toEqual(['applied', 'applied'])
    // The first source's failed events were not touched.
    const [untouched] = await t.db
      .sql`select count(*)::int as n from inbox where source_id = ${source.id} and status = 'failed'`
    expect(untouched?.n).toBe(2)
  })

  it('refuses to replay an event still in flight (409) or unknown (404)', async () => {
    const [row] = await insertBatch(t.db.sql, [
      {
        sourceId: source.id,
        webhookId: 'never-queued',
        eventType: 'test.ping',
        occurredAt: null,
        objectId: null,
        body: '{}',
        requestId: null,
      },
    ])
    const res = await t.app.request(`/v1/events/${row?.id}/replay`, {
      method: 'POST',
      headers: bearer(t.adminKey),
    })
    expect(res.status).toBe(409)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('conflict')
    const missing = await t.app.request('/v1/events/999999999/replay', {
      method: 'POST',
      headers: bearer(t.adminKey),
    })
    expect(missing.status).toBe(404)
    const malformed = await t.app.request('/v1/events/abc', { headers: bearer(t.adminKey) })
    expect(malformed.status).toBe(400)
  })
})
