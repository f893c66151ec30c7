import { describe, expect, it } from 'vitest'
import { startRelay } from '../src/inbox/relay.js'
import { createSourceViaApi, createTestApp, pingEvent, signedHeaders, silentLog } from './helpers/app.js'
import { createTcpProxy } from './helpers/tcp-proxy.js'
import { eventually, startTestWorker } from './helpers/worker.js'

// The API reaches Redis through a proxy this test takes down; the worker reaches Redis directly.
const proxy = await createTcpProxy(6379)
const t = await createTestApp({
  redisUrl: `redis://127.0.0.1:${proxy.port()}`,
  env: { RATE_LIMIT_PER_MINUTE: '5' },
})
const source = await createSourceViaApi(t)
startTestWorker(t)
const relay = startRelay(
  { sql: t.db.sql, queues: t.deps.queues, log: silentLog },
  { intervalMs: 200, afterSeconds: 0 },
)

describe('Redis unreachable', () => {
  it('still answers 202 (and fails open on the rate limit); the event is queued and applied once Redis is back', async () => {
    await proxy.down()
    const ids: string[] = []
    for (let i = 0; i < 8; i++) {
      const body = pingEvent()
      const started = Date.now()
      const res = await t.app.request(`/v1/webhooks/${source.id}`, {
        method: 'POST',
        headers: signedHeaders(source.secret, body),
        body,
      })
      expect(res.status).toBe(202)
      expect(Date.now() - started).toBeLessThan(1500)
      ids.push(((await res.json()) as { id: string }).id)
    }
    await t.drain()
    // Written marked queued, then unmarked when Redis refused them: the relay's to queue.
    const before = await t.db.sql`select status, enqueued_at from inbox where id = any(${ids}::bigint[])`
    expect(before.every((r) => r.status === 'received' && r.enqueued_at === null)).toBe(true)

    await proxy.up()
    const statuses = await eventually(async () => {
      const rows = await t.db.sql<
        { status: string }[]
      >`select status from inbox where id = any(${ids}::bigint[])`
      return rows.every((r) => r.status === 'applied') ? rows : undefined
    }, 20_000)
    expect(statuses).toHaveLength(8)
    await relay.stop()
  })
})
