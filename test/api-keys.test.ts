import { describe, expect, it } from 'vitest'
import { hashKey } from '../src/auth/api-keys.js'
import { bearer, createTestApp } from './helpers/app.js'

const t = await createTestApp()
const json = { 'content-type': 'application/json' }

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error: { code: string; request_id: string | null } }
  expect(body.error.request_id).toBeTruthy()
  return body.error.code
}

describe('API keys', () => {
  it('creates a key shown once, stored only as a hash, that then authenticates', async () => {
    const res = await t.app.request('/v1/api-keys', {
      method: 'POST',
      headers: { ...bearer(t.adminKey), ...json },
      body: JSON.stringify({ name: 'billing system', role: 'billing' }),
    })
    expect(res.status).toBe(201)
    const created = (await res.json()) as { id: string; key: string; role: string }
    expect(created.role).toBe('billing')
    expect(created.key).toMatch(/^tsk_[A-Za-z0-9_-]{43}$/)
    const [row] = await t.db.sql<
      { key_hash: Buffer }[]
    >`select key_hash from api_keys where id = ${created.id}`
    expect(row?.key_hash.equals(hashKey(created.key))).toBe(true)
    const dump = JSON.stringify(await t.db.sql`select * from api_keys`)
    expect(dump).not.toContain(created.key)

    const list = await t.app.request('/v1/api-keys', { headers: bearer(t.adminKey) })
    expect(list.status).toBe(200)
    const body = (await list.json()) as { data: { id: string; key?: string }[] }
    expect(body.data.map((k) => k.id)).toContain(created.id)
    expect(JSON.stringify(body)).not.toContain(created.key)
  })

  it('revokes a key: it no longer authenticates', async () => {
    const viewer = await t.keyFor('viewer')
    expect((await t.app.request('/v1/sources', { headers: bearer(viewer) })).status).toBe(200)
    const [row] = await t.db.sql<
      { id: string }[]
    >`select id from api_keys where key_hash = ${hashKey(viewer)}`
    const res = await t.app.request(`/v1/api-keys/${row?.id}`, {
      method: 'DELETE',
      headers: bearer(t.adminKey),
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { data: { revoked_at: string | null } }).data.revoked_at).toBeTruthy()
    const after = await t.app.request('/v1/sources', { headers: bearer(viewer) })
    expect(after.status).toBe(401)
    expect(await errorCode(after)).toBe('unauthorized')
  })

  it('answers 404 for an unknown key id and 400 for a malformed one', async () => {
    const missing = await t.app.request('/v1/api-keys/00000000-0000-4000-8000-000000000000', {
      method: 'DELETE',
      headers: bearer(t.adminKey),
    })
    expect(missing.status).toBe(404)
    expect(await errorCode(missing)).toBe('not_found')
    const bad = await t.app.request('/v1/api-keys/not-a-uuid', {
      method: 'DELETE',
      headers: bearer(t.adminKey),
    })
    expect(bad.status).toBe(400)
    expect(await errorCode(bad)).toBe('bad_request')
  })

  it('validates the body: an unknown role is a 400 naming the field', async () => {
    const res = await t.app.request('/v1/api-keys', {
      method: 'POST',
      headers: { ...bearer(t.adminKey), ...json },
      body: JSON.stringify({ name: 'x', role: 'owner' }),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } }
    expect(body.error.code).toBe('bad_request')
    expect(body.error.details.map((d) => d.path)).toContain('role')
  })

  it.each([
    ['no key', {}],
    ['a malformed header', { authorization: 'Basic abc' }],
    ['a wrong key', bearer('tsk_wrongwrongwrongwrongwrongwrongwrongwrongwro')],
  ])('answers 401 unauthorized with %s', async (_, headers) => {
    for (const [method, path] of [
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys'],
      ['GET', '/v1/sources'],
      ['POST', '/v1/sources'],
    ] as const) {
      const res = await t.app.request(path, {
        method,
        headers: { ...headers, ...json },
        body: method === 'POST' ? '{}' : undefined,
      })
      expect(res.status, `${method} ${path}`).toBe(401)
      expect(await errorCode(res)).toBe('unauthorized')
    }
  })

  it('answers 403 forbidden to a viewer or billing key on admin routes', async () => {
    for (const role of ['viewer', 'billing'] as const) {
      const key = await t.keyFor(role)
      const list = await t.app.request('/v1/api-keys', { headers: bearer(key) })
      expect(list.status).toBe(403)
      expect(await errorCode(list)).toBe('forbidden')
      const create = await t.app.request('/v1/sources', {
        method: 'POST',
        headers: { ...bearer(key), ...json },
        body: JSON.stringify({ name: 'x', reseller: { name: 'y' } }),
      })
      expect(create.status).toBe(403)
      expect(await errorCode(create)).toBe('forbidden')
    }
  })

  it('answers unknown routes with the contract error body', async () => {
    const res = await t.app.request('/v1/nothing-here')
    expect(res.status).toBe(404)
    expect(await errorCode(res)).toBe('not_found')
  })
})
