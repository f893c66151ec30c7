import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { isStorageUnavailable } from '../src/errors.js'
import { createInboxWriter } from '../src/inbox/inbox-writer.js'
import { expireWaiting, sweep } from '../src/inbox/relay.js'
import { eventJobId } from '../src/queue/jobs.js'
import { createSourceViaApi, createTestApp, pingEvent, signedHeaders, silentLog } from './helpers/app.js'
import { account, sender, settled, statusOf } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

const t = await createTestApp()
startTestWorker(t)
const source = await createSourceViaApi(t)

describe('found in review', () => {
  it('an empty variable counts as unset (compose passes ADMIN_API_KEY= through)', () => {
    expect(loadConfig({ ADMIN_API_KEY: '', PORT: '' }).ADMIN_API_KEY).toBeUndefined()
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000)
  })

  it('treats failover, disk-full and timeout errors from Postgres as unavailable (503)', () => {
    for (const code of ['25006', '53100', '57014', 'ECONNREFUSED']) {
      expect(isStorageUnavailable(Object.assign(new Error('x'), { code })), code).toBe(true)
    }
    expect(isStorageUnavailable(Object.assign(new Error('x'), { code: '23505' }))).toBe(false)
  })

  it('refuses at the door what Postgres could not store (year 0, NUL in an id): 422', async () => {
    for (const body of [
      JSON.stringify({ type: 'test.ping', occurred_at: '0000-01-01T00:00:00Z', data: {} }),
      JSON.stringify({
        type: 'account.created',
        occurred_at: '2026-01-01T00:00:00Z',
        data: { id: 'a\u0000b' },
      }),
    ]) {
      const res = await t.app.request(`/v1/webhooks/${source.id}`, {
        method: 'POST',
        headers: signedHeaders(source.secret, body),
        body,
      })
      expect(res.status).toBe(422)
    }
  })

  it('a row Postgres refuses fails alone, not its whole group commit', async () => {
    const writer = createInboxWriter(t.db.sql)
    const row = (webhookId: string, objectId: string) => ({
      sourceId: source.id,
      webhookId,
      eventType: 'test.ping',
      occurredAt: null,
      objectId,
      body: '{}',
      requestId: null,
    })
    const results = await Promise.allSettled([
      writer.write(row('batch-a', 'ok-1')),
      writer.write(row('batch-b', 'bad\u0000id')),
      writer.write(row('batch-c', 'ok-2')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    // Never queued (no listener here): remove them so later waits for a settled inbox hold.
    await t.db.sql`delete from inbox where webhook_id in ('batch-a', 'batch-c')`
  })

  it('unsigned requests do not use up the rate limit of a source', async () => {
    const limited = await createSourceViaApi(t, { rate_limit_per_minute: 2 })
    for (let i = 0; i < 5; i++) {
      const body = pingEvent()
      const res = await t.app.request(`/v1/webhooks/${limited.id}`, {
        method: 'POST',
        headers: { ...signedHeaders(limited.secret, body), 'webhook-signature': 'v1,AAAA' },
        body,
      })
      expect(res.status).toBe(401)
    }
    const body = pingEvent()
    const ok = await t.app.request(`/v1/webhooks/${limited.id}`, {
      method: 'POST',
      headers: signedHeaders(limited.secret, body),
      body,
    })
    expect(ok.status).toBe(202)
  })

  it('the version columns of a synced account are locked too', async () => {
    const bss = sender(t, source)
    await bss.send(account('locked-1'))
    await settled(t)
    await expect(
      t.db.sql`update accounts set version_sequence = 9223372036854775807 where external_id = 'locked-1'`,
    ).rejects.toThrow(/read-only: version/)
  })

  it('a closed account keeps its parent in the history: the close changes only the status', async () => {
    const bss = sender(t, source)
    await bss.send(account('lite-h', { type: 'reseller' }))
    await bss.send(account('cust-h', { parent_id: 'lite-h' }, { seq: 1 }))
    await settled(t)
    await bss.send(account('cust-h', {}, { seq: 2, type: 'account.deleted' }))
    await settled(t)
    const history = await t.db.sql<
      { state: Record<string, unknown>; before_state: Record<string, unknown> }[]
    >`
      select h.state, h.before_state from account_history h join accounts a on a.id = h.account_id
      where a.external_id = 'cust-h' order by h.sequence`
    expect(history).toHaveLength(2)
    expect(history[1]?.state).toEqual({ ...history[0]?.state, status: 'closed' })
  })

  it('parked events that never find their object end failed with the reason, replayable', async () => {
    const bss = sender(t, source)
    const orphan = await bss.send(account('orphan-1', { parent_id: 'in-another-tree' }))
    await settled(t)
    expect(await statusOf(t, orphan.id)).toBe('waiting')
    expect(await expireWaiting(t.db.sql, 3600)).toBe(0)
    expect(await expireWaiting(t.db.sql, 0)).toBe(1)
    const [row] = await t.db.sql`select status, error from inbox where id = ${orphan.id}`
    expect(row?.status).toBe('failed')
    expect(row?.error).toMatch(/account in-another-tree, which never arrived/)
  })

  it('the relay queues again, under a new generation, rows whose job was lost long ago', async () => {
    const body = pingEvent()
    const res = await t.app.request(`/v1/webhooks/${source.id}`, {
      method: 'POST',
      headers: signedHeaders(source.secret, body),
      body,
    })
    const { id } = (await res.json()) as { id: string }
    await settled(t)
    // Simulate a job BullMQ gave up on: the row never settled and was queued 11 minutes ago.
    await t.db
      .sql`update inbox set status = 'received', enqueued_at = now() - interval '11 minutes' where id = ${id}`
    const queued = await sweep(
      { sql: t.db.sql, queues: t.deps.queues, log: silentLog },
      { afterSeconds: 10, everything: false },
    )
    expect(queued).toBe(1)
    const [row] = await t.db.sql<{ generation: number }[]>`select generation from inbox where id = ${id}`
    expect(row?.generation).toBe(1)
    expect(await t.deps.queues.events.getJob(eventJobId([{ id, generation: 1 }]))).toBeDefined()
    await settled(t)
    expect(await statusOf(t, id)).toBe('applied')
  })
})
