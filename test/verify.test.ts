import { readFileSync } from 'node:fs'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { secretKey, verify } from '../src/verify/standard-webhooks.js'

type Vector = { secret: string; msg_id: string; timestamp: number; payload: string; signature: string }
const vectors = JSON.parse(
  readFileSync(new URL('../../shared/fixtures/standard-webhooks/vectors.json', import.meta.url), 'utf8'),
) as {
  valid: Vector[]
  invalid_signatures_for_first_vector: string[]
  multi_signature_one_valid_for_first_vector: string
}
const first = vectors.valid[0] as Vector
const enc = new TextEncoder()

function check(
  v: Vector,
  overrides: Partial<{ id: string; timestamp: string; signature: string; payload: string }> = {},
  now = v.timestamp,
) {
  return verify(
    {
      id: overrides.id ?? v.msg_id,
      timestamp: overrides.timestamp ?? String(v.timestamp),
      signature: overrides.signature ?? v.signature,
    },
    enc.encode(overrides.payload ?? v.payload),
    [secretKey(v.secret)],
    now,
  ).outcome
}

describe('Standard Webhooks v1 verification (clock frozen at the vector)', () => {
  it.each(vectors.valid)('accepts the valid vector $msg_id', (v) => {
    expect(check(v)).toBe('verified')
  })

  it.each(vectors.invalid_signatures_for_first_vector)('refuses the invalid signature %s', (signature) => {
    expect(check(first, { signature })).toBe('signature_invalid')
  })

  it('accepts a list where one v1 signature matches', () => {
    expect(check(first, { signature: vectors.multi_signature_one_valid_for_first_vector })).toBe('verified')
  })

  it('signs the raw bytes: re-serialised JSON does not verify', () => {
    expect(check(first, { payload: JSON.stringify(JSON.parse(first.payload)) })).toBe('signature_invalid')
  })

  it('refuses a changed id or timestamp (both are signed)', () => {
    expect(check(first, { id: 'msg_other' })).toBe('signature_invalid')
    expect(check(first, { timestamp: String(first.timestamp + 1) }, first.timestamp)).toBe(
      'signature_invalid',
    )
  })

  it('has a 5-minute tolerance both ways', () => {
    expect(check(first, {}, first.timestamp + 300)).toBe('verified')
    expect(check(first, {}, first.timestamp - 300)).toBe('verified')
    expect(check(first, {}, first.timestamp + 301)).toBe('timestamp_out_of_tolerance')
    expect(check(first, {}, first.timestamp - 301)).toBe('timestamp_out_of_tolerance')
  })

  it('refuses a non-numeric timestamp', () => {
    expect(check(first, { timestamp: 'yesterday' })).toBe('timestamp_out_of_tolerance')
  })

  it('needs each of the three headers', () => {
    for (const missing of ['id', 'timestamp', 'signature'] as const) {
      const h = {
        id: first.msg_id,
        timestamp: String(first.timestamp),
        signature: first.signature,
        [missing]: undefined,
      }
      expect(verify(h, enc.encode(first.payload), [secretKey(first.secret)], first.timestamp).outcome).toBe(
        'signature_headers_missing',
      )
    }
  })

  it('fails closed with no active secret', () => {
    const h = { id: first.msg_id, timestamp: String(first.timestamp), signature: first.signature }
    expect(verify(h, enc.encode(first.payload), [], first.timestamp).outcome).toBe('signature_invalid')
  })

  it('accepts any of several active secrets (rotation)', () => {
    const other = secretKey('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD')
    const h = { id: first.msg_id, timestamp: String(first.timestamp), signature: first.signature }
    expect(
      verify(h, enc.encode(first.payload), [other, secretKey(first.secret)], first.timestamp).outcome,
    ).toBe('verified')
  })

  it('verifies what the npm standardwebhooks library signs', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
    const at = new Date(1_700_000_000_000)
    const signature = new Webhook(secret).sign('msg_1', at, '{"a":1}')
    const h = { id: 'msg_1', timestamp: '1700000000', signature }
    expect(verify(h, enc.encode('{"a":1}'), [secretKey(secret)], 1_700_000_000).outcome).toBe('verified')
  })
})
