import { createHmac } from 'node:crypto'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, createSourceViaApi, createTestApp, pingEvent, signedHeaders } from './helpers/app.js'
import { settled } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

// Each verification scheme and the `mapping` format, through the real routes into a real worker.
const t = await createTestApp()
startTestWorker(t)
const admin = { ...bearer(t.adminKey), 'content-type': 'application/json' }

async function post(sourceId: string, body: string, headers: Record<string, string>) {
  const res = await t.app.request(`/v1/webhooks/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  return {
    status: res.status,
    body: (await res.json()) as { id?: string; status?: string; error?: { code: string } },
  }
}

async function api(method: string, path: string, body?: unknown) {
  const res = await t.app.request(path, {
    method,
    headers: admin,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in assertions
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

describe('hmac (GitHub style and home-grown)', async () => {
  const source = await createSourceViaApi(t, {
    verification: {
      scheme: 'hmac',
      header: 'X-Hub-Signature-256',
      prefix: 'sha256=',
      id_header: 'X-GitHub-Delivery',
    },
  })
  const sign = (secret: string, body: string) =>
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

  it('accepts a signed delivery once, then answers duplicate for the same delivery id', async () => {
    const body = pingEvent()
    const headers = { 'x-hub-signature-256': sign(source.secret, body), 'x-github-delivery': 'd-1' }
    expect((await post(source.id, body, headers)).status).toBe(202)
    const again = await post(source.id, body, headers)
    expect(again.status).toBe(200)
    expect(again.body.status).toBe('duplicate')
  })

  it('refuses a wrong signature and a missing header with the contract codes', async () => {
    const body = pingEvent()
    const bad = await post(source.id, body, { 'x-hub-signature-256': sign('not-the-secret-at-all', body) })
    expect([bad.status, bad.body.error?.code]).toEqual([401, 'signature_invalid'])
    const missing = await post(source.id, body, {})
    expect([missing.status, missing.body.error?.code]).toEqual([400, 'signature_headers_missing'])
  })

  it('keeps the previous secret valid after a rotation to a secret the BSS chose', async () => {
    const chosen = 'bss-generated-secret-0123456789-abcdef'
    const rotated = await api('POST', `/v1/sources/${source.id}/secrets/rotate`, { secret: chosen })
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).toBe(chosen)
    for (const secret of [source.secret, chosen]) {
      const body = pingEvent({ sequence: secret.length })
      expect((await post(source.id, body, { 'x-hub-signature-256': sign(secret, body) })).status).toBe(202)
    }
  })
})

describe('jwt-hs256 (CloudBlue Connect style)', async () => {
  const secret = 'connect-jwt-secret-chosen-by-the-bss'
  const source = await createSourceViaApi(t, { verification: { scheme: 'jwt-hs256' }, secret })
  const token = (key: string, iat = Math.floor(Date.now() / 1000), exp = iat + 120) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(key))

  it('accepts a valid bearer token; the same body again is a duplicate (no delivery id)', async () => {
    const body = pingEvent()
    const headers = { authorization: `Bearer ${await token(secret)}` }
    expect((await post(source.id, body, headers)).status).toBe(202)
    expect((await post(source.id, body, { authorization: `Bearer ${await token(secret)}` })).status).toBe(200)
  })

  it('refuses a token signed with another secret, and an expired one', async () => {
    const body = pingEvent()
    const wrong = await post(source.id, body, {
      authorization: `Bearer ${await token('some-other-secret-value')}`,
    })
    expect([wrong.status, wrong.body.error?.code]).toEqual([401, 'signature_invalid'])
    const old = Math.floor(Date.now() / 1000) - 3600
    const expired = await post(source.id, body, {
      authorization: `Bearer ${await token(secret, old, old + 60)}`,
    })
    expect([expired.status, expired.body.error?.code]).toEqual([401, 'timestamp_out_of_tolerance'])
  })
})

describe('api-key (interworks.cloud and Pax8 style)', async () => {
  const source = await createSourceViaApi(t, { verification: { scheme: 'api-key', header: 'X-Api-Key' } })

  it('accepts the key and refuses anything else', async () => {
    expect((await post(source.id, pingEvent(), { 'x-api-key': source.secret })).status).toBe(202)
    const wrong = await post(source.id, pingEvent(), { 'x-api-key': `${source.secret}x` })
    expect([wrong.status, wrong.body.error?.code]).toEqual([401, 'signature_invalid'])
  })

  it('refuses settings that do not validate', async () => {
    const res = await api('POST', '/v1/sources', {
      name: 'bad',
      reseller: { name: 'R' },
      verification: { scheme: 'hmac', header: 'x-sig', content: '{timestamp}.{body}' },
    })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('bad_request')
  })
})

describe('mapping (a home-grown BSS with its own JSON)', async () => {
  const expression = `{
    "type": event = "customer_created" ? "account.created" : "account.updated",
    "occurred_at": at,
    "sequence": rev,
    "data": { "id": customer.ref, "type": "customer", "parent_id": null, "name": customer.legal_name,
              "email": customer.mail }
  }`
  const sample = {
    event: 'customer_created',
    at: '2026-11-02T08:00:00Z',
    rev: 1,
    customer: { ref: 'hg-42', legal_name: 'Home Grown Customer', mail: 'it@hg.example' },
  }

  it('needs a mapping when the format is mapping, and refuses an expression that does not compile', async () => {
    const none = await api('POST', '/v1/sources', { name: 'hg', format: 'mapping', reseller: { name: 'HG' } })
    expect(none.status).toBe(400)
    const bad = await api('POST', '/v1/sources', {
      name: 'hg',
      format: 'mapping',
      reseller: { name: 'HG' },
      mapping: { expression: '{ "type": ' },
    })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body.error.details)).toContain('not a valid JSONata expression')
  })

  it('is configured through the API, previewed, and applied from a signed delivery', async () => {
    const source = await createSourceViaApi(t, {
      format: 'mapping',
      mapping: { expression: '{"type": "test.ping", "occurred_at": at, "data": {}}' },
    })
    const put = await api('PUT', `/v1/sources/${source.id}/mapping`, { expression })
    expect(put.status).toBe(200)
    expect(put.body.data.mapping.expression).toBe(expression)

    const preview = await api('POST', `/v1/sources/${source.id}/mapping/preview`, { payload: sample })
    expect(preview.status).toBe(200)
    expect(preview.body.ok).toBe(true)
    expect(preview.body.events).toEqual([
      {
        type: 'account.created',
        occurred_at: '2026-11-02T08:00:00Z',
        sequence: 1,
        data: {
          id: 'hg-42',
          type: 'customer',
          parent_id: null,
          name: 'Home Grown Customer',
          email: 'it@hg.example',
        },
      },
    ])
    const broken = await api('POST', `/v1/sources/${source.id}/mapping/preview`, {
      payload: { ...sample, customer: { ref: 'hg-43' } },
    })
    expect(broken.body.ok).toBe(false)
    expect(broken.body.details.map((d: { path: string }) => d.path)).toContain('data.name')

    const body = JSON.stringify(sample)
    const res = await t.app.request(`/v1/webhooks/${source.id}`, {
      method: 'POST',
      headers: signedHeaders(source.secret, body),
      body,
    })
    expect(res.status).toBe(202)
    await settled(t)
    const [row] = await t.db.sql<{ name: string; email: string }[]>`
      select name, email from accounts where source_id = ${source.id} and external_id = 'hg-42'`
    expect(row).toEqual({ name: 'Home Grown Customer', email: 'it@hg.example' })

    // A payload the mapping cannot turn into a valid event is refused before it is acknowledged.
    const invalid = JSON.stringify({ event: 'customer_created', at: 'yesterday', customer: {} })
    const refused = await t.app.request(`/v1/webhooks/${source.id}`, {
      method: 'POST',
      headers: signedHeaders(source.secret, invalid),
      body: invalid,
    })
    expect(refused.status).toBe(422)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_event')
  })

  it('bounds runaway expressions in a sandbox thread: the API keeps answering', async () => {
    const source = await createSourceViaApi(t, { format: 'mapping', mapping: { expression: '{}' } })
    const huge = await api('POST', `/v1/sources/${source.id}/mapping/preview`, {
      payload: {},
      mapping: { expression: '$pad("", 200000000)' },
    })
    expect(huge.body.ok).toBe(false)
    expect(huge.body.details[0].message).toContain('$pad width')

    // Catastrophic backtracking: the thread is stopped after its time limit, and meanwhile the
    // main thread answers other requests.
    const order: string[] = []
    const runaway = api('POST', `/v1/sources/${source.id}/mapping/preview`, {
      payload: { s: `${'a'.repeat(40)}!` },
      mapping: { expression: '$match(s, /(a+)+$/)' },
    }).then((r) => {
      order.push('runaway')
      return r
    })
    const health = Promise.resolve(t.app.request('/healthz')).then((r) => {
      order.push('healthz')
      return r
    })
    expect((await health).status).toBe(200)
    const r = await runaway
    expect(order).toEqual(['healthz', 'runaway'])
    expect(r.body.ok).toBe(false)
    expect(r.body.details[0].message).toMatch(/longer than/)

    // The sandbox is back for the next expression.
    const fine = await api('POST', `/v1/sources/${source.id}/mapping/preview`, {
      payload: { at: '2026-11-02T08:00:00Z' },
      mapping: { expression: '{"type": "test.ping", "occurred_at": at, "data": {}}' },
    })
    expect(fine.body.ok).toBe(true)
  })
})
