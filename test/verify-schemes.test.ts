import { createHmac } from 'node:crypto'
import { SignJWT } from 'jose'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_VERIFICATION,
  generateSecret,
  VerificationConfig,
  type VerifyInput,
  verifyRequest,
} from '../src/verify/schemes.js'
import { secretKey } from '../src/verify/standard-webhooks.js'

const NOW = 1_700_000_000
const enc = new TextEncoder()

function input(
  headers: Record<string, string>,
  body: string | Uint8Array,
  secrets: readonly string[],
  nowSeconds = NOW,
): VerifyInput {
  // Headers gives the same case-insensitive lookup as the framework's request.
  const h = new Headers(headers)
  return {
    header: (name) => h.get(name) ?? undefined,
    raw: typeof body === 'string' ? enc.encode(body) : body,
    secrets,
    nowSeconds,
  }
}

async function outcome(config: VerificationConfig, i: VerifyInput) {
  return (await verifyRequest(config, i)).outcome
}

describe('standard-webhooks scheme (delegates to the Standard Webhooks v1 verifier)', () => {
  const oldSecret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const newSecret = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD'
  const body = '{"type":"subscription.updated","data":{"id":"s1"}}'
  const signed = (secret: string, payload = body) => ({
    'Webhook-Id': 'msg_1',
    'Webhook-Timestamp': String(NOW),
    'Webhook-Signature': new Webhook(secret).sign('msg_1', new Date(NOW * 1000), payload),
  })

  it('verifies what the npm library signs and reports webhook-id as the delivery id', async () => {
    expect(await verifyRequest(DEFAULT_VERIFICATION, input(signed(oldSecret), body, [oldSecret]))).toEqual({
      outcome: 'verified',
      webhookId: 'msg_1',
    })
  })

  it('refuses a tampered body and a wrong secret', async () => {
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), `${body} `, [oldSecret]))).toBe(
      'signature_invalid',
    )
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), body, [newSecret]))).toBe(
      'signature_invalid',
    )
  })

  it('refuses a delivery outside the 5-minute tolerance', async () => {
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), body, [oldSecret], NOW + 300))).toBe(
      'verified',
    )
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), body, [oldSecret], NOW + 301))).toBe(
      'timestamp_out_of_tolerance',
    )
  })

  it('accepts the old and the new secret during rotation, and no other', async () => {
    const both = [oldSecret, newSecret]
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), body, both))).toBe('verified')
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(newSecret), body, both))).toBe('verified')
    const stranger = 'whsec_dGhpcyBpcyBub3QgYW4gYWN0aXZlIHNlY3JldA=='
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(stranger), body, both))).toBe('signature_invalid')
  })

  it('needs each of the three headers', async () => {
    for (const missing of ['Webhook-Id', 'Webhook-Timestamp', 'Webhook-Signature'] as const) {
      const headers: Record<string, string> = signed(oldSecret)
      delete headers[missing]
      expect(await outcome(DEFAULT_VERIFICATION, input(headers, body, [oldSecret]))).toBe(
        'signature_headers_missing',
      )
    }
  })

  it('fails closed with no secret', async () => {
    expect(await outcome(DEFAULT_VERIFICATION, input(signed(oldSecret), body, []))).toBe('signature_invalid')
  })
})

describe('jwt-hs256 scheme', () => {
  const config = VerificationConfig.parse({ scheme: 'jwt-hs256' })
  const oldSecret = 'connect-old-secret'
  const newSecret = 'connect-new-secret'
  const body = '{"id":"PR-1"}'
  const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

  function token(
    secret: string,
    claims: Record<string, unknown> = { jti: 'evt_1' },
    iat: number | null = NOW,
  ) {
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    if (iat !== null) jwt.setIssuedAt(iat)
    return jwt.sign(enc.encode(secret))
  }
  const bearer = async (jwt: string | Promise<string>) => ({ Authorization: `Bearer ${await jwt}` })

  it('verifies a token signed with the secret and reports jti as the delivery id', async () => {
    expect(await verifyRequest(config, input(await bearer(token(oldSecret)), body, [oldSecret]))).toEqual({
      outcome: 'verified',
      webhookId: 'evt_1',
    })
  })

  it('reports the configured id claim, or null without one', async () => {
    const custom = VerificationConfig.parse({ scheme: 'jwt-hs256', id_claim: 'delivery_id' })
    const jwt = await bearer(token(oldSecret, { jti: 'evt_1', delivery_id: 'd-42' }))
    expect(await verifyRequest(custom, input(jwt, body, [oldSecret]))).toEqual({
      outcome: 'verified',
      webhookId: 'd-42',
    })
    expect(await verifyRequest(config, input(await bearer(token(oldSecret, {})), body, [oldSecret]))).toEqual(
      {
        outcome: 'verified',
        webhookId: null,
      },
    )
  })

  it('does not cover the body: only the token is authenticated', async () => {
    expect(await outcome(config, input(await bearer(token(oldSecret)), '{"id":"PR-2"}', [oldSecret]))).toBe(
      'verified',
    )
  })

  it('refuses a tampered token and a wrong secret', async () => {
    const [header, , signature] = (await token(oldSecret)).split('.')
    const forged = `${header}.${b64url({ jti: 'evt_2', iat: NOW })}.${signature}`
    expect(await outcome(config, input(await bearer(forged), body, [oldSecret]))).toBe('signature_invalid')
    expect(await outcome(config, input(await bearer(token(oldSecret)), body, [newSecret]))).toBe(
      'signature_invalid',
    )
  })

  it('refuses alg none and HS512 tokens', async () => {
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ jti: 'evt_1', iat: NOW })}.`
    expect(await outcome(config, input(await bearer(none), body, [oldSecret]))).toBe('signature_invalid')
    const hs512 = await new SignJWT({ jti: 'evt_1' })
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuedAt(NOW)
      .sign(enc.encode(oldSecret))
    expect(await outcome(config, input(await bearer(hs512), body, [oldSecret]))).toBe('signature_invalid')
  })

  it('refuses malformed tokens without throwing', async () => {
    const header = b64url({ alg: 'HS256' })
    for (const bad of [
      'garbage',
      'a.b.c',
      `${header}.bm90IGpzb24.c2ln`,
      `${header}.${b64url([1, 2])}.c2ln`,
    ]) {
      expect(await outcome(config, input(await bearer(bad), body, [oldSecret]))).toBe('signature_invalid')
    }
  })

  it('honours exp with the tolerance, against the injected clock', async () => {
    const jwt = await bearer(token(oldSecret, { jti: 'evt_1', exp: NOW - 200 }, NOW - 250))
    expect(await outcome(config, input(jwt, body, [oldSecret]))).toBe('verified')
    expect(await outcome(config, input(jwt, body, [oldSecret], NOW + 100))).toBe('timestamp_out_of_tolerance')
  })

  it('requires iat within the tolerance both ways', async () => {
    const at = async (iat: number) =>
      outcome(config, input(await bearer(token(oldSecret, {}, iat)), body, [oldSecret]))
    expect(await at(NOW - 300)).toBe('verified')
    expect(await at(NOW + 300)).toBe('verified')
    expect(await at(NOW - 301)).toBe('timestamp_out_of_tolerance')
    expect(await at(NOW + 301)).toBe('timestamp_out_of_tolerance')
    const tight = VerificationConfig.parse({ scheme: 'jwt-hs256', tolerance_seconds: 10 })
    expect(await outcome(tight, input(await bearer(token(oldSecret, {}, NOW - 11)), body, [oldSecret]))).toBe(
      'timestamp_out_of_tolerance',
    )
  })

  it('refuses a token without iat and one not yet valid (nbf)', async () => {
    expect(await outcome(config, input(await bearer(token(oldSecret, {}, null)), body, [oldSecret]))).toBe(
      'signature_invalid',
    )
    const early = await bearer(token(oldSecret, { nbf: NOW + 600 }))
    expect(await outcome(config, input(early, body, [oldSecret]))).toBe('timestamp_out_of_tolerance')
  })

  it('accepts the old and the new secret during rotation, and no other', async () => {
    const both = [oldSecret, newSecret]
    expect(await outcome(config, input(await bearer(token(oldSecret)), body, both))).toBe('verified')
    expect(await outcome(config, input(await bearer(token(newSecret)), body, both))).toBe('verified')
    expect(await outcome(config, input(await bearer(token('stranger')), body, both))).toBe(
      'signature_invalid',
    )
  })

  it('reads only Authorization: Bearer', async () => {
    const jwt = await token(oldSecret)
    expect(await outcome(config, input({}, body, [oldSecret]))).toBe('signature_headers_missing')
    expect(await outcome(config, input({ Authentication: jwt }, body, [oldSecret]))).toBe(
      'signature_headers_missing',
    )
    expect(await outcome(config, input({ Authorization: jwt }, body, [oldSecret]))).toBe('signature_invalid')
    expect(await outcome(config, input({ Authorization: `bearer ${jwt}` }, body, [oldSecret]))).toBe(
      'verified',
    )
  })

  it('fails closed with no secret', async () => {
    expect(await outcome(config, input(await bearer(token(oldSecret)), body, []))).toBe('signature_invalid')
  })

  it('bounds tolerance_seconds to 0..3600', () => {
    expect(VerificationConfig.safeParse({ scheme: 'jwt-hs256', tolerance_seconds: 3601 }).success).toBe(false)
    expect(VerificationConfig.safeParse({ scheme: 'jwt-hs256', tolerance_seconds: -1 }).success).toBe(false)
  })
})

describe('hmac scheme, GitHub style', () => {
  // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
  const secret = "It's a Secret to Everybody"
  const body = 'Hello, World!'
  const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
  const config = VerificationConfig.parse({
    scheme: 'hmac',
    header: 'X-Hub-Signature-256',
    prefix: 'sha256=',
    id_header: 'X-GitHub-Delivery',
  })
  const sign = (key: string, payload: string | Uint8Array) =>
    `sha256=${createHmac('sha256', key).update(payload).digest('hex')}`

  it('normalises the config: lowercased headers, sha256, hex, {body}', () => {
    expect(config).toEqual({
      scheme: 'hmac',
      header: 'x-hub-signature-256',
      prefix: 'sha256=',
      id_header: 'x-github-delivery',
      algorithm: 'sha256',
      encoding: 'hex',
      content: '{body}',
      tolerance_seconds: 300,
    })
  })

  it("verifies GitHub's documented vector, hex in either case, with the delivery id", async () => {
    const headers = { 'X-Hub-Signature-256': expected, 'X-GitHub-Delivery': 'd-1' }
    expect(await verifyRequest(config, input(headers, body, [secret]))).toEqual({
      outcome: 'verified',
      webhookId: 'd-1',
    })
    const upper = `sha256=${expected.slice(7).toUpperCase()}`
    expect(await verifyRequest(config, input({ 'x-hub-signature-256': upper }, body, [secret]))).toEqual({
      outcome: 'verified',
      webhookId: null,
    })
  })

  it('signs the raw bytes, never a decoded string', async () => {
    const raw = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])
    expect(await outcome(config, input({ 'x-hub-signature-256': sign(secret, raw) }, raw, [secret]))).toBe(
      'verified',
    )
  })

  it('refuses a tampered body, a wrong secret, a missing prefix and malformed hex', async () => {
    const headers = { 'x-hub-signature-256': expected }
    expect(await outcome(config, input(headers, 'Hello, World?', [secret]))).toBe('signature_invalid')
    expect(await outcome(config, input(headers, body, ['another secret']))).toBe('signature_invalid')
    for (const bad of [
      expected.slice(7),
      `sha1=${expected.slice(7)}`,
      `${expected}0`,
      `sha256=${'zz'.repeat(32)}`,
    ]) {
      expect(await outcome(config, input({ 'x-hub-signature-256': bad }, body, [secret]))).toBe(
        'signature_invalid',
      )
    }
  })

  it('accepts the old and the new secret during rotation, and no other', async () => {
    const both = [secret, 'the new secret']
    expect(await outcome(config, input({ 'x-hub-signature-256': expected }, body, both))).toBe('verified')
    const byNew = { 'x-hub-signature-256': sign('the new secret', body) }
    expect(await outcome(config, input(byNew, body, both))).toBe('verified')
    const byStranger = { 'x-hub-signature-256': sign('stranger', body) }
    expect(await outcome(config, input(byStranger, body, both))).toBe('signature_invalid')
  })

  it('needs the signature header', async () => {
    expect(await outcome(config, input({ 'x-hub-signature': expected }, body, [secret]))).toBe(
      'signature_headers_missing',
    )
  })

  it('fails closed with no secret, and an empty secret never verifies', async () => {
    expect(await outcome(config, input({ 'x-hub-signature-256': expected }, body, []))).toBe(
      'signature_invalid',
    )
    expect(await outcome(config, input({ 'x-hub-signature-256': sign('', body) }, body, ['']))).toBe(
      'signature_invalid',
    )
  })
})

describe('hmac scheme, {timestamp}.{body} with sha512 base64', () => {
  const config = VerificationConfig.parse({
    scheme: 'hmac',
    header: 'X-Signature',
    algorithm: 'sha512',
    encoding: 'base64',
    content: '{timestamp}.{body}',
    timestamp_header: 'X-Timestamp',
    tolerance_seconds: 60,
  })
  const secret = 'tenant-secret'
  const body = '{"event":"order.created"}'
  const sign = (key: string, ts: number | string, payload = body) =>
    createHmac('sha512', key).update(`${ts}.`).update(payload).digest('base64')
  const headers = (key: string, ts: number | string = NOW) => ({
    'x-signature': sign(key, ts),
    'x-timestamp': String(ts),
  })

  it('verifies within the tolerance', async () => {
    expect(await verifyRequest(config, input(headers(secret), body, [secret], NOW + 60))).toEqual({
      outcome: 'verified',
      webhookId: null,
    })
  })

  it('refuses a delivery outside the tolerance, or with a non-numeric timestamp', async () => {
    expect(await outcome(config, input(headers(secret), body, [secret], NOW + 61))).toBe(
      'timestamp_out_of_tolerance',
    )
    expect(await outcome(config, input(headers(secret), body, [secret], NOW - 61))).toBe(
      'timestamp_out_of_tolerance',
    )
    expect(await outcome(config, input(headers(secret, '17e8'), body, [secret]))).toBe(
      'timestamp_out_of_tolerance',
    )
  })

  it('signs the timestamp: a refreshed one does not verify', async () => {
    const replayed = { 'x-signature': sign(secret, NOW - 3600), 'x-timestamp': String(NOW) }
    expect(await outcome(config, input(replayed, body, [secret]))).toBe('signature_invalid')
  })

  it('refuses a tampered body and a wrong secret', async () => {
    expect(await outcome(config, input(headers(secret), '{"event":"order.deleted"}', [secret]))).toBe(
      'signature_invalid',
    )
    expect(await outcome(config, input(headers('other'), body, [secret]))).toBe('signature_invalid')
  })

  it('accepts the old and the new secret during rotation, and no other', async () => {
    const both = [secret, 'rotated-secret']
    expect(await outcome(config, input(headers(secret), body, both))).toBe('verified')
    expect(await outcome(config, input(headers('rotated-secret'), body, both))).toBe('verified')
    expect(await outcome(config, input(headers('stranger'), body, both))).toBe('signature_invalid')
  })

  it('needs both the signature and the timestamp header', async () => {
    expect(await outcome(config, input({ 'x-signature': sign(secret, NOW) }, body, [secret]))).toBe(
      'signature_headers_missing',
    )
    expect(await outcome(config, input({ 'x-timestamp': String(NOW) }, body, [secret]))).toBe(
      'signature_headers_missing',
    )
  })

  it('fails closed with no secret', async () => {
    expect(await outcome(config, input(headers(secret), body, []))).toBe('signature_invalid')
  })
})

describe('hmac config schema', () => {
  const issues = (config: unknown) =>
    VerificationConfig.safeParse(config).error?.issues.map((i) => ({ path: i.path, message: i.message }))

  it('requires timestamp_header when the content signs {timestamp}', () => {
    expect(issues({ scheme: 'hmac', header: 'x-sig', content: '{timestamp}.{body}' })).toEqual([
      { path: ['timestamp_header'], message: 'content uses {timestamp}, so timestamp_header is required' },
    ])
  })

  it('refuses an unsigned timestamp_header, content without {body} and a bad header name', () => {
    expect(issues({ scheme: 'hmac', header: 'x-sig', timestamp_header: 'x-ts' })?.[0]?.path).toEqual([
      'content',
    ])
    expect(
      issues({ scheme: 'hmac', header: 'x-sig', content: '{timestamp}', timestamp_header: 'x-ts' }),
    ).toEqual([expect.objectContaining({ path: ['content'] })])
    expect(issues({ scheme: 'hmac', header: 'x sig' })?.[0]?.path).toEqual(['header'])
  })

  it('refuses unknown schemes and unknown fields', () => {
    expect(VerificationConfig.safeParse({ scheme: 'md5' }).success).toBe(false)
    expect(VerificationConfig.safeParse({ scheme: 'jwt-hs256', tolerance: 10 }).success).toBe(false)
  })
})

describe('api-key scheme', () => {
  const config = VerificationConfig.parse({
    scheme: 'api-key',
    header: 'Authorization',
    prefix: 'Bearer ',
    id_header: 'X-Request-Id',
  })
  const key = 'k_live_0123456789'
  const body = '{"a":1}'

  it('verifies the key after the prefix, with the delivery id', async () => {
    const headers = { Authorization: `Bearer ${key}`, 'X-Request-Id': 'r-1' }
    expect(await verifyRequest(config, input(headers, body, [key]))).toEqual({
      outcome: 'verified',
      webhookId: 'r-1',
    })
  })

  it('does not cover the body: only the key is checked', async () => {
    expect(await outcome(config, input({ Authorization: `Bearer ${key}` }, '{"a":2}', [key]))).toBe(
      'verified',
    )
  })

  it('refuses a wrong key, a key prefix and a missing prefix', async () => {
    expect(await outcome(config, input({ Authorization: 'Bearer k_live_other' }, body, [key]))).toBe(
      'signature_invalid',
    )
    expect(await outcome(config, input({ Authorization: `Bearer ${key.slice(0, 5)}` }, body, [key]))).toBe(
      'signature_invalid',
    )
    expect(await outcome(config, input({ Authorization: key }, body, [key]))).toBe('signature_invalid')
  })

  it('accepts the old and the new key during rotation, and no other', async () => {
    const both = [key, 'k_live_new']
    expect(await outcome(config, input({ Authorization: `Bearer ${key}` }, body, both))).toBe('verified')
    expect(await outcome(config, input({ Authorization: 'Bearer k_live_new' }, body, both))).toBe('verified')
    expect(await outcome(config, input({ Authorization: 'Bearer k_live_x' }, body, both))).toBe(
      'signature_invalid',
    )
  })

  it('needs the header', async () => {
    expect(await outcome(config, input({ 'X-Api-Key': key }, body, [key]))).toBe('signature_headers_missing')
  })

  it('fails closed with no secret', async () => {
    expect(await outcome(config, input({ Authorization: `Bearer ${key}` }, body, []))).toBe(
      'signature_invalid',
    )
  })
})

describe('generateSecret', () => {
  it('makes a whsec_ key of 32 bytes for Standard Webhooks', () => {
    const secret = generateSecret(DEFAULT_VERIFICATION)
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(secretKey(secret)).toHaveLength(32)
  })

  it('makes 32 random bytes base64url for the other schemes', () => {
    for (const config of [
      VerificationConfig.parse({ scheme: 'jwt-hs256' }),
      VerificationConfig.parse({ scheme: 'hmac', header: 'x-sig' }),
      VerificationConfig.parse({ scheme: 'api-key', header: 'x-api-key' }),
    ]) {
      const secret = generateSecret(config)
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(secret, 'base64url')).toHaveLength(32)
      expect(generateSecret(config)).not.toBe(secret)
    }
  })

  it('makes secrets that verify their own scheme', async () => {
    const config = VerificationConfig.parse({ scheme: 'hmac', header: 'x-sig' })
    const secret = generateSecret(config)
    const signature = createHmac('sha256', secret).update('{}').digest('hex')
    expect(await outcome(config, input({ 'x-sig': signature }, '{}', [secret]))).toBe('verified')
  })
})
