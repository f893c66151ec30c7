import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { start } from '../src/runtime.js'
import { pingEvent, signedHeaders, silentLog, testConfig } from './helpers/app.js'
import { createTestDb } from './helpers/db.js'
import { eventually } from './helpers/worker.js'

// The service finding Redis through a real Sentinel (redis-server --sentinel) that monitors the
// local Redis as its master: REDIS_SENTINELS instead of a direct address.
async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as { port: number }
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

const port = await freePort()
const dir = mkdtempSync(join(tmpdir(), 'tiersync-sentinel-'))
writeFileSync(
  join(dir, 'sentinel.conf'),
  `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor tiersync-test 127.0.0.1 6379 1\n`,
)
const sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { stdio: 'ignore' })
afterAll(() => {
  sentinel.kill('SIGTERM')
})

const db = await createTestDb()
const adminKey = 'tsk_test_sentinel_admin_key_0123456789'
// Nothing listens at REDIS_URL's port: only the Sentinel can lead the service to Redis.
const running = await start(
  testConfig(db, {
    ADMIN_API_KEY: adminKey,
    REDIS_URL: 'redis://127.0.0.1:1/0',
    REDIS_SENTINELS: `127.0.0.1:${port}`,
    REDIS_SENTINEL_NAME: 'tiersync-test',
  }),
  { log: silentLog },
)
afterAll(() => running.stop())
const base = `http://127.0.0.1:${running.port}`

describe('Redis through Sentinel', () => {
  it('is ready and applies a webhook through queues reached via the Sentinel', async () => {
    await eventually(async () => {
      const ready = await request(`${base}/readyz`)
      return ((await ready.body.json()) as { redis: string }).redis === 'ok' ? true : undefined
    })
    const created = await request(`${base}/v1/sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'BSS', reseller: { name: 'R' } }),
    })
    const { id, secret } = (await created.body.json()) as { id: string; secret: string }
    const body = pingEvent()
    const res = await request(`${base}/v1/webhooks/${id}`, {
      method: 'POST',
      headers: signedHeaders(secret, body),
      body,
    })
    expect(res.statusCode).toBe(202)
    await eventually(async () => {
      const [row] = await db.sql<{ status: string }[]>`select status from inbox where source_id = ${id}`
      return row?.status === 'applied' ? true : undefined
    })
  })
})
