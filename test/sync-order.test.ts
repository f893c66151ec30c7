import { describe, expect, it } from 'vitest'
import { createSourceViaApi, createTestApp } from './helpers/app.js'
import { account, type CanonicalEvent, sender, settled, statusOf, subscription } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
startTestWorker(t)

/** A deterministic PRNG, so a failing shuffle can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

describe('order does not matter', () => {
  it('1,000 events over 50 subscriptions, shuffled and each delivered up to 3 times, end as in-order application', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    const random = rng(20261124)
    const statuses = ['active', 'active', 'active', 'suspended', 'cancelled', 'active']
    const events: CanonicalEvent[] = []
    for (let c = 0; c < 5; c++) events.push(account(`c${c}`, {}, { seq: 1 }))
    const expected = new Map<string, { quantity: number; status: string; versions: number[] }>()
    for (let s = 0; s < 50; s++) {
      const versions: number[] = []
      let last = { quantity: 0, status: 'active' }
      for (let seq = 1; seq <= 20; seq++) {
        last = {
          quantity: 1 + Math.floor(random() * 100),
          status: statuses[Math.floor(random() * statuses.length)] as string,
        }
        versions.push(last.quantity)
        const at = new Date(Date.UTC(2026, 10, 1, 0, seq)).toISOString()
        events.push(
          subscription(`s${s}`, `c${s % 5}`, last, {
            seq,
            at,
            type: seq === 1 ? 'subscription.created' : 'subscription.updated',
          }),
        )
      }
      expected.set(`s${s}`, { ...last, versions })
    }
    // Every event once or more, some resent under the same webhook-id, some under a new one.
    const deliveries: { event: CanonicalEvent; webhookId: string }[] = []
    events.forEach((event, i) => {
      const copies = 1 + Math.floor(random() * 3)
      for (let k = 0; k < copies; k++)
        deliveries.push({ event, webhookId: random() < 0.5 ? `msg_${i}` : `msg_${i}_${k}` })
    })
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[deliveries[i], deliveries[j]] = [
        deliveries[j] as (typeof deliveries)[number],
        deliveries[i] as (typeof deliveries)[number],
      ]
    }
    for (let i = 0; i < deliveries.length; i += 50) {
      const batch = deliveries.slice(i, i + 50)
      const codes = await Promise.all(batch.map((d) => bss.send(d.event, d.webhookId).then((r) => r.status)))
      for (const code of codes) expect([200, 202]).toContain(code)
    }
    await settled(t, 120_000)

    const rows = await t.db.sql<
      { external_id: string; quantity: number; status: string; version_sequence: string }[]
    >`
      select external_id, quantity, status, version_sequence from subscriptions where source_id = ${source.id}`
    expect(rows).toHaveLength(50)
    for (const row of rows) {
      const want = expected.get(row.external_id)
      expect({ q: row.quantity, s: row.status, v: row.version_sequence }, row.external_id).toEqual({
        q: want?.quantity,
        s: want?.status,
        v: '20',
      })
    }
    const history = await t.db.sql<{ external_id: string; quantities: number[]; n: number }[]>`
      select s.external_id, array_agg((v.state->>'quantity')::int order by v.sequence) as quantities, count(*)::int as n
      from subscription_versions v join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id} group by s.external_id`
    for (const h of history)
      expect(h.quantities, h.external_id).toEqual(expected.get(h.external_id)?.versions)
    const [unsettled] = await t.db.sql<{ n: number }[]>`
      select count(*)::int as n from inbox where source_id = ${source.id} and status not in ('applied', 'stale')`
    expect(unsettled?.n).toBe(0)
  }, 180_000)

  it('parks a subscription that arrives before its account, then applies it', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    const sub = await bss.send(subscription('early-sub', 'late-account'))
    await settled(t)
    expect(await statusOf(t, sub.id)).toBe('waiting')
    const [parked] = await t.db.sql`select waiting_for_kind, waiting_for_id from inbox where id = ${sub.id}`
    expect(parked).toEqual({ waiting_for_kind: 'account', waiting_for_id: 'late-account' })
    expect(await t.db.sql`select 1 from subscriptions where external_id = 'early-sub'`).toHaveLength(0)

    await bss.send(account('late-account'))
    await settled(t)
    expect(await statusOf(t, sub.id)).toBe('applied')
    // Woken under a new generation and marked queued (the worker queues it at once), so the
    // relay does not queue it a second time.
    const [woken] = await t.db.sql`select generation, enqueued_at from inbox where id = ${sub.id}`
    expect(woken?.generation).toBe(1)
    expect(woken?.enqueued_at).toBeInstanceOf(Date)
    const [row] = await t.db.sql`
      select a.external_id from subscriptions s join accounts a on a.id = s.account_id where s.external_id = 'early-sub'`
    expect(row?.external_id).toBe('late-account')
  })

  it('parks an add-on before its parent subscription, and an account before its parent reseller', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    const addon = await bss.send(subscription('addon-1', 'cust-1', { parent_subscription_id: 'base-1' }))
    const cust = await bss.send(account('cust-1', { parent_id: 'lite-9' }))
    await settled(t)
    expect(await statusOf(t, cust.id)).toBe('waiting')
    expect(await statusOf(t, addon.id)).toBe('waiting')

    await bss.send(account('lite-9', { type: 'reseller' }))
    await settled(t)
    expect(await statusOf(t, cust.id)).toBe('applied')
    const [again] = await t.db
      .sql`select waiting_for_kind, waiting_for_id, status from inbox where id = ${addon.id}`
    expect(again).toEqual({ status: 'waiting', waiting_for_kind: 'subscription', waiting_for_id: 'base-1' })

    await bss.send(subscription('base-1', 'cust-1'))
    await settled(t)
    expect(await statusOf(t, addon.id)).toBe('applied')
    const [pair] = await t.db.sql`
      select p.external_id as parent from subscriptions s join subscriptions p on p.id = s.parent_subscription_id
      where s.external_id = 'addon-1' and s.source_id = ${source.id}`
    expect(pair?.parent).toBe('base-1')
  })

  it('closes an account on account.deleted (never deletes it), even when the deletion arrives first', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    const del = await bss.send(
      account('gone-1', {}, { type: 'account.deleted', seq: 2, at: '2026-11-20T00:00:00Z' }),
    )
    await bss.send(subscription('gone-sub', 'gone-1'))
    await settled(t)
    expect(await statusOf(t, del.id)).toBe('waiting')
    await bss.send(account('gone-1', {}, { seq: 1 }))
    await settled(t)
    expect(await statusOf(t, del.id)).toBe('applied')
    const [row] = await t.db
      .sql`select status, closed_at from accounts where source_id = ${source.id} and external_id = 'gone-1'`
    expect(row).toEqual({ status: 'closed', closed_at: new Date('2026-11-20T00:00:00Z') })
    expect(
      await t.db.sql`select 1 from subscriptions where source_id = ${source.id} and external_id = 'gone-sub'`,
    ).toHaveLength(1)
  })

  it('keeps an unknown status raw and reads it as unknown, without failing the event', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    await bss.send(account('u-1'))
    const sub = await bss.send(subscription('u-sub', 'u-1', { status: 'PendingRenewalReview' }))
    await settled(t)
    expect(await statusOf(t, sub.id)).toBe('applied')
    const [row] = await t.db.sql`select status, raw_status from subscriptions where source_id = ${source.id}`
    expect(row).toEqual({ status: 'unknown', raw_status: 'PendingRenewalReview' })
  })

  it('a stale event changes nothing and ends stale; a resent version adds no history', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    await bss.send(account('v-1'))
    await bss.send(subscription('v-sub', 'v-1', { quantity: 7 }, { seq: 5 }))
    await settled(t)
    const older = await bss.send(subscription('v-sub', 'v-1', { quantity: 3 }, { seq: 4 }))
    const resent = await bss.send(subscription('v-sub', 'v-1', { quantity: 7 }, { seq: 5 }))
    await settled(t)
    expect(await statusOf(t, older.id)).toBe('stale')
    expect(await statusOf(t, resent.id)).toBe('stale')
    const [row] = await t.db
      .sql`select quantity, version_sequence from subscriptions where source_id = ${source.id}`
    expect(row).toEqual({ quantity: 7, version_sequence: '5' })
    const versions = await t.db.sql`
      select v.sequence from subscription_versions v join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id} order by v.sequence`
    expect(versions.map((v) => v.sequence)).toEqual(['4', '5'])
  })
})

describe('a close that arrives before older updates', () => {
  it('ends as if they had come first: the closed account shows the newest update, its close records it', async () => {
    const source = await createSourceViaApi(t)
    const bss = sender(t, source)
    // One at a time, each settled before the next: created (1), deleted (4), then updates 3 and 2.
    for (const e of [
      account('late-1', { name: 'Version 1' }, { seq: 1 }),
      account('late-1', {}, { seq: 4, type: 'account.deleted' }),
      account('late-1', { name: 'Version 3', email: 'v3@example.com' }, { seq: 3, type: 'account.updated' }),
      account('late-1', { name: 'Version 2' }, { seq: 2, type: 'account.updated' }),
    ]) {
      expect((await bss.send(e)).status).toBe(202)
      await settled(t)
    }
    const [row] = await t.db.sql<{ name: string; email: string; status: string }[]>`
      select name, email, status from accounts where source_id = ${source.id} and external_id = 'late-1'`
    expect(row).toEqual({ name: 'Version 3', email: 'v3@example.com', status: 'closed' })
    const history = await t.db.sql<{ sequence: string; name: string; status: string }[]>`
      select v.sequence, v.state->>'name' as name, v.state->>'status' as status from account_versions v
      join accounts a on a.id = v.account_id where a.source_id = ${source.id} order by v.sequence`
    expect(history).toEqual([
      { sequence: '1', name: 'Version 1', status: 'active' },
      { sequence: '2', name: 'Version 2', status: 'active' },
      { sequence: '3', name: 'Version 3', status: 'active' },
      { sequence: '4', name: 'Version 3', status: 'closed' },
    ])
  })
})
