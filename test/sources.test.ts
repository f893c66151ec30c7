import { describe, expect, it } from 'vitest'
import { frozenClock } from '../src/clock.js'
import {
  bearer,
  createSourceViaApi,
  createTestApp,
  pingEvent,
  RESELLER,
  signedHeaders,
} from './helpers/app.js'

const clock = frozenClock(new Date('2026-11-24T10:00:00Z'))
const t = await createTestApp({ clock })
const json = { 'content-type': 'application/json' }

function send(sourceId: string, secret: string) {
  const body = pingEvent({ occurred_at: clock.now().toISOString() })
  return t.app.request(`/v1/webhooks/${sourceId}`, {
    method: 'POST',
    headers: signedHeaders(secret, body, { at: clock.now() }),
    body,
  })
}

describe('sources', () => {
  it('creates the source with its tenant reseller account and a Standard Webhooks secret', async () => {
    const created = await createSourceViaApi(t)
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32)
    expect(created.webhook_url).toBe(`${t.deps.config.PUBLIC_URL}/v1/webhooks/${created.id}`)
    const [account] = await t.db
      .sql`select type, name, number, email, tier, currency, tenant_id from accounts where id = ${created.account_id}`
    expect(account).toEqual({ ...RESELLER, type: 'tenant_reseller', tenant_id: null })
  })

  it('stores the secret encrypted, and never returns it after creation', async () => {
    const created = await createSourceViaApi(t)
    const raw = Buffer.from(created.secret.slice(6), 'base64')
    const rows = await t.db.sql<
      { secret_enc: Buffer }[]
    >`select secret_enc from source_secrets where source_id = ${created.id}`
    expect(rows).toHaveLength(1)
    expect(rows[0]?.secret_enc.includes(raw)).toBe(false)
    expect(rows[0]?.secret_enc.toString('latin1')).not.toContain(created.secret)
    for (const path of ['/v1/sources', `/v1/sources/${created.id}`]) {
      const res = await t.app.request(path, { headers: bearer(t.adminKey) })
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toContain(created.id)
      expect(text).not.toContain(created.secret)
      expect(text).not.toContain('secret_enc')
    }
  })

  it('lets a viewer read but not create', async () => {
    const viewer = await t.keyFor('viewer')
    expect((await t.app.request('/v1/sources', { headers: bearer(viewer) })).status).toBe(200)
    const res = await t.app.request('/v1/sources', {
      method: 'POST',
      headers: { ...bearer(viewer), ...json },
      body: JSON.stringify({ name: 'x', reseller: RESELLER }),
    })
    expect(res.status).toBe(403)
  })

  it('validates the body with the failing paths', async () => {
    const res = await t.app.request('/v1/sources', {
      method: 'POST',
      headers: { ...bearer(t.adminKey), ...json },
      body: JSON.stringify({ name: '', format: 'smoke-signals', reseller: { currency: 'euro' } }),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } }
    expect(body.error.code).toBe('bad_request')
    expect(body.error.details.map((d) => d.path).sort()).toEqual([
      'format',
      'name',
      'reseller.currency',
      'reseller.name',
    ])
  })

  it('answers 404 for an unknown source', async () => {
    const res = await t.app.request('/v1/sources/00000000-0000-4000-8000-000000000000', {
      headers: bearer(t.adminKey),
    })
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })

  it('rotates: old and new secrets both verify during the grace period, the old one not after', async () => {
    const created = await createSourceViaApi(t)
    expect((await send(created.id, created.secret)).status).toBe(202)
    const res = await t.app.request(`/v1/sources/${created.id}/secrets/rotate`, {
      method: 'POST',
      headers: bearer(t.adminKey),
    })
    expect(res.status).toBe(200)
    const rotated = (await res.json()) as { secret: string; secrets: { expires_at: string | null }[] }
    expect(rotated.secret).not.toBe(created.secret)
    expect(rotated.secrets.map((s) => s.expires_at)).toEqual(['2026-11-25T10:00:00.000Z', null])

    clock.advance(23 * 3600 * 1000)
    expect((await send(created.id, created.secret)).status).toBe(202)
    expect((await send(created.id, rotated.secret)).status).toBe(202)

    clock.advance(2 * 3600 * 1000)
    const old = await send(created.id, created.secret)
    expect(old.status).toBe(401)
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe('signature_invalid')
    expect((await send(created.id, rotated.secret)).status).toBe(202)
  })

  it('rotates with an explicit grace of zero: the old secret stops at once', async () => {
    const created = await createSourceViaApi(t)
    const res = await t.app.request(`/v1/sources/${created.id}/secrets/rotate`, {
      method: 'POST',
      headers: { ...bearer(t.adminKey), ...json },
      body: JSON.stringify({ grace_hours: 0 }),
    })
    const { secret } = (await res.json()) as { secret: string }
    clock.advance(1000)
    expect((await send(created.id, created.secret)).status).toBe(401)
    expect((await send(created.id, secret)).status).toBe(202)
  })

  it('disables and enables: a disabled source answers 404 source_not_found', async () => {
    const created = await createSourceViaApi(t)
    const off = await t.app.request(`/v1/sources/${created.id}/disable`, {
      method: 'POST',
      headers: bearer(t.adminKey),
    })
    expect(((await off.json()) as { data: { enabled: boolean } }).data.enabled).toBe(false)
    const refused = await send(created.id, created.secret)
    expect(refused.status).toBe(404)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('source_not_found')
    await t.app.request(`/v1/sources/${created.id}/enable`, { method: 'POST', headers: bearer(t.adminKey) })
    expect((await send(created.id, created.secret)).status).toBe(202)
  })
})
