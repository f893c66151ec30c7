import { Worker } from 'bullmq'
import { describe, expect, it } from 'vitest'
import { insertBatch } from '../src/inbox/inbox-writer.js'
import { createEnqueuer } from '../src/inbox/relay.js'
import { ApplyEvent, applyEventJobs, type EventRef } from '../src/queue/jobs.js'
import { createWorkerRedis } from '../src/queue/redis.js'
import { bearer, createSourceViaApi, createTestApp, silentLog } from './helpers/app.js'
import { REDIS_URL } from './helpers/env.js'
import { account, type CanonicalEvent, sender, subscription } from './helpers/reseller.js'
import { eventually, startTestWorker } from './helpers/worker.js'

const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
startTestWorker(t)

let batchNo = 0
/** Stores events in the inbox, in this order, and queues them as one job (one batch). */
async function oneJob(items: { sourceId: string; event: CanonicalEvent }[]): Promise<EventRef[]> {
  batchNo += 1
  const written = await insertBatch(
    t.db.sql,
    items.map(({ sourceId, event }, i) => ({
      sourceId,
      webhookId: `batch_${batchNo}_${i}`,
      eventType: event.type,
      occurredAt: null,
      objectId: null,
      body: JSON.stringify(event),
      requestId: null,
    })),
  )
  const refs = written.map((w) => ({ id: w.id, generation: 0 }))
  expect(applyEventJobs(refs)).toHaveLength(1)
  await t.deps.queues.enqueueEvents(refs)
  return refs
}

type Row = {
  id: string
  status: string
  attempts: number
  generation: number
  error: string | null
  body: string
}
async function settledRows(refs: EventRef[]): Promise<Row[]> {
  const ids = refs.map((r) => r.id)
  return eventually(async () => {
    const rows = await t.db.sql<Row[]>`
      select id::text, status, attempts, generation, error, body from inbox where id = any(${ids}::bigint[]) order by id`
    return rows.every((r) => r.status !== 'received' && r.status !== 'processing') ? rows : undefined
  })
}

describe('a job applies its rows as one batch, each event all-or-nothing', () => {
  it('an event that needs an object a later event of the batch brings applies right after it, never parked', async () => {
    const source = await createSourceViaApi(t)
    const events = [
      subscription('b1-addon', 'b1-acc', { parent_subscription_id: 'b1-base', quantity: 2 }, { seq: 1 }),
      subscription('b1-base', 'b1-acc', { quantity: 5 }, { seq: 1 }),
      account('b1-acc', { parent_id: 'b1-res' }, { seq: 1 }),
      account('b1-res', { type: 'reseller' }, { seq: 1 }),
    ]
    const rows = await settledRows(await oneJob(events.map((event) => ({ sourceId: source.id, event }))))
    expect(rows.map((r) => [r.status, r.attempts, r.generation])).toEqual(events.map(() => ['applied', 1, 0]))

    const subs = await t.db.sql<
      { external_id: string; quantity: number; account: string; parent: string | null }[]
    >`
      select s.external_id, s.quantity, a.external_id as account, p.external_id as parent
      from subscriptions s join accounts a on a.id = s.account_id
      left join subscriptions p on p.id = s.parent_subscription_id
      where s.source_id = ${source.id} order by s.external_id`
    expect(subs).toEqual([
      { external_id: 'b1-addon', quantity: 2, account: 'b1-acc', parent: 'b1-base' },
      { external_id: 'b1-base', quantity: 5, account: 'b1-acc', parent: null },
    ])
    const [tree] = await t.db.sql<{ parent: string }[]>`
      select p.external_id as parent from accounts a join accounts p on p.id = a.parent_id
      where a.source_id = ${source.id} and a.external_id = 'b1-acc'`
    expect(tree?.parent).toBe('b1-res')
    const [history] = await t.db.sql<{ n: number }[]>`
      select count(*)::int as n from subscription_versions v join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id}`
    expect(history?.n).toBe(2)
  })

  it('an event whose object never comes in the batch stays parked; the others apply', async () => {
    const source = await createSourceViaApi(t)
    const rows = await settledRows(
      await oneJob([
        { sourceId: source.id, event: subscription('b2-sub', 'b2-missing', {}, { seq: 1 }) },
        { sourceId: source.id, event: account('b2-acc', {}, { seq: 1 }) },
      ]),
    )
    expect(rows.map((r) => r.status)).toEqual(['waiting', 'applied'])
  })

  it('the database refusing one event fails that event alone, with the reason; the rest of the batch applies', async () => {
    const source = await createSourceViaApi(t)
    const events = Array.from({ length: 9 }, (_, i) => account(`b3-${i}`, {}, { seq: 1 }))
    // Valid JSON and a valid canonical event, but text Postgres cannot store.
    events.splice(5, 0, account('b3-nul', { name: 'Broken\u0000Name' }, { seq: 1 }))
    const rows = await settledRows(await oneJob(events.map((event) => ({ sourceId: source.id, event }))))
    const failed = rows.filter((r) => r.status === 'failed')
    expect(failed.map((r) => r.body.includes('b3-nul'))).toEqual([true])
    expect(failed[0]?.error).toMatch(/unicode|\\u0000/i)
    expect(rows.filter((r) => r.status === 'applied')).toHaveLength(9)
    expect(rows.map((r) => r.attempts)).toEqual(events.map(() => 1))
    const [count] = await t.db.sql<{ n: number }[]>`
      select count(*)::int as n from accounts where source_id = ${source.id}`
    expect(count?.n).toBe(9)
  })

  it('sources in one batch stay apart, even with the same external ids', async () => {
    const [one, two] = [await createSourceViaApi(t), await createSourceViaApi(t)]
    if (!one || !two) throw new Error('no source')
    const rows = await settledRows(
      await oneJob([
        { sourceId: one.id, event: account('same-id', { name: 'In one' }, { seq: 1 }) },
        { sourceId: two.id, event: account('same-id', { name: 'In two' }, { seq: 1 }) },
        { sourceId: one.id, event: subscription('same-sub', 'same-id', { quantity: 1 }, { seq: 1 }) },
        { sourceId: two.id, event: subscription('same-sub', 'same-id', { quantity: 2 }, { seq: 1 }) },
      ]),
    )
    expect(rows.map((r) => r.status)).toEqual(['applied', 'applied', 'applied', 'applied'])
    const subs = await t.db.sql<{ source_id: string; quantity: number; name: string; tenant_ok: boolean }[]>`
      select s.source_id, s.quantity, a.name, s.tenant_id = a.tenant_id as tenant_ok
      from subscriptions s join accounts a on a.id = s.account_id
      where s.source_id in (${one.id}, ${two.id}) order by s.quantity`
    expect(subs).toEqual([
      { source_id: one.id, quantity: 1, name: 'In one', tenant_ok: true },
      { source_id: two.id, quantity: 2, name: 'In two', tenant_ok: true },
    ])
  })

  it('a close and the older updates in one batch, newest first, end as in order', async () => {
    const source = await createSourceViaApi(t)
    const rows = await settledRows(
      await oneJob(
        [
          account('b5', {}, { seq: 3, type: 'account.deleted', at: '2026-11-03T00:00:00Z' }),
          account('b5', { name: 'Renamed' }, { seq: 2, type: 'account.updated', at: '2026-11-02T00:00:00Z' }),
          account('b5', { name: 'First' }, { seq: 1, at: '2026-11-01T00:00:00Z' }),
        ].map((event) => ({ sourceId: source.id, event })),
      ),
    )
    // The close waits for the account, which the update brings; the create comes last and is stale.
    expect(rows.map((r) => [r.status, r.generation])).toEqual([
      ['applied', 0],
      ['applied', 0],
      ['stale', 0],
    ])
    const [row] = await t.db.sql<{ name: string; status: string; version_sequence: string }[]>`
      select name, status, version_sequence from accounts where source_id = ${source.id} and external_id = 'b5'`
    expect(row).toEqual({ name: 'Renamed', status: 'closed', version_sequence: '3' })
    const history = await t.db.sql<{ sequence: string; name: string; status: string }[]>`
      select v.sequence, v.state->>'name' as name, v.state->>'status' as status
      from account_versions v join accounts a on a.id = v.account_id
      where a.source_id = ${source.id} order by v.sequence`
    expect(history).toEqual([
      { sequence: '1', name: 'First', status: 'active' },
      { sequence: '2', name: 'Renamed', status: 'active' },
      { sequence: '3', name: 'Renamed', status: 'closed' },
    ])
  })
})

describe('a stored subscription moves to the state its history records', () => {
  it('every synced field, after changes across batches and twice within one, ends as its newest version says', async () => {
    const source = await createSourceViaApi(t)
    const job = jobsOf(source.id)
    await settledRows(
      await job(
        account('m1-acc', {}, { seq: 1 }),
        account('m1-acc2', {}, { seq: 1 }),
        subscription('m1-base', 'm1-acc', {}, { seq: 1 }),
        subscription('m1-sub', 'm1-acc', {}, { seq: 1 }),
      ),
    )
    const updated = { type: 'subscription.updated' }
    // The fields stored as the event sends them (the others are stored by id, or mapped).
    const asSent = {
      quantity: 0,
      billing_cycle: 'annual',
      term: null,
      start_date: '2026-12-01',
      end_date: null,
      activation_date: null,
      auto_renew: false,
      characteristics: [{ code: 'seats', name: null, value: 3 }],
    }
    const rows = await settledRows(
      await job(
        subscription('m1-sub', 'm1-acc', { quantity: 7, status: 'Suspended' }, { seq: 2, ...updated }),
        subscription(
          'm1-sub',
          'm1-acc2',
          {
            parent_subscription_id: 'm1-base',
            product: { sku: 'CFQ7TTC0J1FV:0001', name: null },
            status: 'Cancelled',
            ...asSent,
          },
          { seq: 3, ...updated },
        ),
        subscription('m1-base', 'm1-acc', { quantity: 4 }, { seq: 2, ...updated }),
      ),
    )
    expect(rows.map((r) => r.status)).toEqual(['applied', 'applied', 'applied'])
    const [sub] = await t.db.sql`
      select a.external_id as account, p.external_id as parent, s.sku, s.product_name, s.status, s.raw_status,
        s.quantity, s.billing_cycle, s.term, s.start_date::text, s.end_date::text, s.activation_date::text,
        s.auto_renew, s.characteristics, s.version_sequence, s.last_inbox_id::text
      from subscriptions s join accounts a on a.id = s.account_id
      left join subscriptions p on p.id = s.parent_subscription_id
      where s.source_id = ${source.id} and s.external_id = 'm1-sub'`
    expect(sub).toEqual({
      account: 'm1-acc2',
      parent: 'm1-base',
      sku: 'CFQ7TTC0J1FV:0001',
      product_name: null,
      status: 'cancelled',
      raw_status: 'Cancelled',
      ...asSent,
      version_sequence: '3',
      last_inbox_id: rows[1]?.id,
    })
    const [base] = await t.db.sql`
      select quantity, version_sequence from subscriptions where source_id = ${source.id} and external_id = 'm1-base'`
    expect(base).toEqual({ quantity: 4, version_sequence: '2' })
  })
})

/** Queues events as one job of a source (`wrap` turns each into the source's own payload). */
function jobsOf(sourceId: string, wrap: (e: CanonicalEvent) => unknown = (e) => e) {
  return (...events: CanonicalEvent[]) =>
    oneJob(events.map((event) => ({ sourceId, event: wrap(event) as CanonicalEvent })))
}

const updatedAt = (seq: number | undefined, time: string) => ({
  type: 'subscription.updated',
  seq,
  at: `2026-11-02T${time}:00Z`,
})

/**
 * A subscription moved back in time, a job per step: s:5 at 10:00; a version without a sequence
 * at 09:59 (quantity 20), older, so recorded stale; then s:6 at 09:58, newer by its sequence. The
 * version t:09:59 is now in the history, from the stale event, and newer than the row. Returns
 * the stale event's row.
 */
async function movedBackInTime(job: ReturnType<typeof jobsOf>, sub: string, acc: string) {
  await settledRows(await job(account(acc, {}, { seq: 1 })))
  await settledRows(await job(subscription(sub, acc, { quantity: 5 }, updatedAt(5, '10:00'))))
  const [stale] = await settledRows(
    await job(subscription(sub, acc, { quantity: 20 }, updatedAt(undefined, '09:59'))),
  )
  expect(stale?.status).toBe('stale')
  await settledRows(await job(subscription(sub, acc, { quantity: 6 }, updatedAt(6, '09:58'))))
  return stale
}

describe('a version the history already holds from another event', () => {
  it('the row takes the state of the event that moves it there, not of the one that recorded the version stale', async () => {
    const source = await createSourceViaApi(t)
    const job = jobsOf(source.id)
    const stale = await movedBackInTime(job, 'v1-sub', 'v1-acc')
    await settledRows(await job(subscription('v1-other', 'v1-acc', { quantity: 1 }, updatedAt(1, '10:00'))))
    // The same version again, with other content: now newer than the row (09:59 after 09:58). In
    // one batch with an ordinary update of another subscription, which finds its own version.
    const [moved, other] = await settledRows(
      await job(
        subscription('v1-sub', 'v1-acc', { quantity: 30 }, updatedAt(undefined, '09:59')),
        subscription('v1-other', 'v1-acc', { quantity: 2 }, updatedAt(2, '10:05')),
      ),
    )
    expect([moved?.status, other?.status]).toEqual(['applied', 'applied'])
    const rows = await t.db.sql`
      select external_id, quantity, version_key, last_inbox_id::text from subscriptions
      where source_id = ${source.id} order by external_id`
    expect(rows).toEqual([
      { external_id: 'v1-other', quantity: 2, version_key: 's:2', last_inbox_id: other?.id },
      {
        external_id: 'v1-sub',
        quantity: 30,
        version_key: 't:2026-11-02T09:59:00.000Z',
        last_inbox_id: moved?.id,
      },
    ])
    // The history keeps the version as first recorded: one key, one state.
    const [version] = await t.db.sql`
      select v.state->'quantity' as quantity, v.inbox_id::text from subscription_versions v
      join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id} and s.external_id = 'v1-sub' and v.version_key = 't:2026-11-02T09:59:00.000Z'`
    expect(version).toEqual({ quantity: 20, inbox_id: stale?.id })
  })
})

describe('a replay under an edited mapping', () => {
  it('moves the row to the state the event maps to now, though the history keeps its first', async () => {
    // A home-grown format whose payload carries the canonical event; the mapping first passes it on.
    const source = await createSourceViaApi(t, { format: 'mapping', mapping: { expression: 'event' } })
    const stale = await movedBackInTime(
      jobsOf(source.id, (event) => ({ type: event.type, event })),
      'r1-sub',
      'r1-acc',
    )
    // The mapping now multiplies quantities by ten; the stale event, replayed, is newer than the row.
    const admin = { ...bearer(t.adminKey), 'content-type': 'application/json' }
    const expression =
      '$merge([event, {"data": $merge([event.data, {"quantity": event.data.quantity * 10}])}])'
    const put = await t.app.request(`/v1/sources/${source.id}/mapping`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ expression }),
    })
    expect(put.status).toBe(200)
    const replay = await t.app.request(`/v1/events/${stale?.id}/replay`, { method: 'POST', headers: admin })
    expect(replay.status).toBe(202)
    const [again] = await eventually(async () => {
      const rows = await t.db.sql<
        { status: string }[]
      >`select status from inbox where id = ${stale?.id as string}`
      return rows[0]?.status === 'applied' ? rows : undefined
    })
    expect(again?.status).toBe('applied')
    const [row] = await t.db.sql`
      select quantity, version_key, last_inbox_id::text from subscriptions
      where source_id = ${source.id} and external_id = 'r1-sub'`
    expect(row).toEqual({
      quantity: 200,
      version_key: 't:2026-11-02T09:59:00.000Z',
      last_inbox_id: stale?.id,
    })
  })
})

describe('jobs of rows', () => {
  const refs = (n: number, generation = 0) =>
    Array.from({ length: n }, (_, i) => ({ id: String(1000 + i), generation }))

  it(`groups rows in id order, at most ${ApplyEvent.maxRows} a job, with ids that name exactly their rows`, () => {
    const max = ApplyEvent.maxRows
    const jobs = applyEventJobs(refs(2 * max + 100).reverse())
    expect(jobs.map((j) => j.data.inboxIds.length)).toEqual([max, max, 100])
    expect(jobs[0]?.data.inboxIds[0]).toBe('1000')
    expect(new Set(jobs.map((j) => j.opts.jobId)).size).toBe(3)
    // The same rows give the same jobs (re-adding is a no-op); a new generation gives new ones.
    expect(applyEventJobs(refs(2 * max + 100)).map((j) => j.opts.jobId)).toEqual(
      jobs.map((j) => j.opts.jobId),
    )
    expect(applyEventJobs(refs(2 * max + 100, 1))[0]?.opts.jobId).not.toBe(jobs[0]?.opts.jobId)
    expect(applyEventJobs(refs(1))[0]?.opts.jobId).toBe('inbox-1000-0')
  })

  it('woken rows are queued ahead of the jobs waiting, so they apply before a backlog', async () => {
    const quiet = await createTestApp()
    await quiet.deps.queues.enqueueEvents([{ id: '7001', generation: 0 }])
    await quiet.deps.queues.enqueueEvents([{ id: '7002', generation: 0 }])
    const woken = createEnqueuer(
      { sql: quiet.db.sql, queues: quiet.deps.queues, log: silentLog },
      { front: true },
    )
    woken.enqueue([{ id: '7000', generation: 1 }])
    await woken.drain()
    // A real worker on that queue, one job at a time, that records the order it is given jobs in.
    const order: string[] = []
    const connection = createWorkerRedis(REDIS_URL, silentLog)
    const worker = new Worker(
      ApplyEvent.queue,
      async (job) => {
        order.push(...(job.data.inboxIds as string[]))
      },
      { connection, prefix: quiet.deps.config.QUEUE_PREFIX, concurrency: 1 },
    )
    try {
      await eventually(async () => (order.length === 3 ? true : undefined))
      expect(order).toEqual(['7000', '7001', '7002'])
    } finally {
      await worker.close()
      connection.disconnect()
    }
  })

  it('deliveries committed within a few milliseconds go to Redis as one job, and are all marked queued', async () => {
    // No worker on this app: a row a worker is applying is skipped by the mark (only a hint), so
    // with one running, which rows end marked would depend on timing.
    const quiet = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
    const source = await createSourceViaApi(quiet)
    const bss = sender(quiet, source)
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => bss.send(account(`burst-${i}`, {}, { seq: 1 }))),
    )
    expect(acks.every((a) => a.status === 202)).toBe(true)
    await quiet.drain()
    const ids = new Set(acks.map((a) => a.id))
    const jobs = (
      await quiet.deps.queues.events.getJobs(['waiting', 'active', 'completed', 'delayed'])
    ).filter((j) => (j.data.inboxIds as string[]).some((id) => ids.has(id)))
    expect(new Set(jobs.flatMap((j) => j.data.inboxIds as string[]))).toEqual(ids)
    expect(jobs.length).toBeLessThan(ids.size / 3)
    const [unmarked] = await quiet.db.sql<{ n: number }[]>`
      select count(*)::int as n from inbox where id = any(${[...ids]}::bigint[]) and enqueued_at is null`
    expect(unmarked?.n).toBe(0)
  })
})
