import { request as httpRequest } from 'node:http'
import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { start } from '../src/runtime.js'
import { pingEvent, signedHeaders, silentLog, testConfig } from './helpers/app.js'
import { createTestDb } from './helpers/db.js'
import { eventually } from './helpers/worker.js'

// The whole service as `npm start` runs it (ROLE=all), over a real socket.
const db = await createTestDb()
const adminKey = 'tsk_test_bootstrap_admin_key_0123456789'
const running = await start(
  testConfig(db, { ADMIN_API_KEY: adminKey, WEBHOOK_MAX_BYTES: String(64 * 1024) }),
  { log: silentLog },
)
afterAll(() => running.stop())
const base = `http://127.0.0.1:${running.port}`

async function api(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('the running service', () => {
  it('is healthy and ready', async () => {
    expect((await request(`${base}/healthz`)).statusCode).toBe(200)
    const ready = await request(`${base}/readyz`)
    expect(ready.statusCode).toBe(200)
    expect(await ready.body.json()).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' })
  })

  it('registers a source with the bootstrap key, takes a signed webhook over HTTP and applies it', async () => {
    const created = await api('POST', '/v1/sources', { name: 'BSS', reseller: { name: 'Cloud Resell' } })
    expect(created.status).toBe(201)
    const { id, secret } = created.body as { id: string; secret: string }
    const body = pingEvent()
    const res = await request(`${base}/v1/webhooks/${id}`, {
      method: 'POST',
      headers: signedHeaders(secret, body),
      body,
    })
    expect(res.statusCode).toBe(202)
    const ack = (await res.body.json()) as { id: string; status: string }
    expect(ack.status).toBe('accepted')
    expect(res.headers['x-request-id']).toBeTruthy()
    const row = await eventually(async () => {
      const [r] = await db.sql`select status, request_id from inbox where id = ${ack.id}`
      return r?.status === 'applied' ? r : undefined
    })
    expect(row.request_id).toBe(res.headers['x-request-id'])
  })

  it('cuts off an endless chunked body at the limit instead of buffering it', async () => {
    const created = await api('POST', '/v1/sources', { name: 'BSS 2', reseller: { name: 'Other' } })
    const { id, secret } = created.body as { id: string; secret: string }
    const chunk = Buffer.alloc(16 * 1024, 0x20)
    let written = 0
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/webhooks/${id}`, {
        method: 'POST',
        headers: signedHeaders(secret, '{}'),
      })
      req.on('response', (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text })
          req.destroy()
        })
      })
      req.on('error', (err) => (written > 0 ? undefined : reject(err)))
      let answered = false
      req.on('response', () => {
        answered = true
      })
      const pump = () => {
        if (answered) return
        // Endless: keeps writing until the server answers (bounded at 64 MiB as a safety net).
        while (written < 64 * 1024 * 1024 && req.write(chunk)) written += chunk.length
        if (written < 64 * 1024 * 1024) req.once('drain', pump)
      }
      pump()
    })
    expect(result.status).toBe(413)
    expect(JSON.parse(result.body).error.code).toBe('payload_too_large')
    expect(written).toBeLessThan(16 * 1024 * 1024)
  })

  it('answers an unknown route and a wrong method with the error body', async () => {
    const res = await request(`${base}/v2/anything`)
    expect(res.statusCode).toBe(404)
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('not_found')
    const method = await request(`${base}/healthz`, { method: 'DELETE' })
    expect(method.statusCode).toBe(405)
    expect(((await method.body.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed')
  })
})
