import { createHmac, timingSafeEqual } from 'node:crypto'

/** Standard Webhooks v1: https://www.standardwebhooks.com (CONTRACT section 2). */
export const TOLERANCE_SECONDS = 5 * 60

export type WebhookHeaders = {
  id: string | undefined
  timestamp: string | undefined
  signature: string | undefined
}

export type VerifyOutcome =
  | { outcome: 'verified' }
  | { outcome: 'signature_headers_missing' }
  | { outcome: 'timestamp_out_of_tolerance' }
  | { outcome: 'signature_invalid' }

/** Decodes `whsec_<base64>` (the prefix is optional, as in the reference libraries). */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
}

export function sign(key: Buffer, id: string, timestamp: number | string, body: Uint8Array): string {
  const mac = createHmac('sha256', key)
  mac.update(`${id}.${timestamp}.`)
  mac.update(body)
  return mac.digest('base64')
}

/**
 * Verifies over the raw bytes, before any parsing: the signature covers them exactly.
 * Fails closed: no keys means nothing verifies. Every candidate signature is compared against
 * every key in constant time; the loop does not stop early on a match.
 */
export function verify(
  headers: WebhookHeaders,
  body: Uint8Array,
  keys: readonly Buffer[],
  nowSeconds: number,
): VerifyOutcome {
  const { id, timestamp, signature } = headers
  if (!id || !timestamp || !signature) return { outcome: 'signature_headers_missing' }
  if (!/^\d{1,12}$/.test(timestamp)) return { outcome: 'timestamp_out_of_tolerance' }
  if (Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) {
    return { outcome: 'timestamp_out_of_tolerance' }
  }
  const candidates: Buffer[] = []
  for (const part of signature.split(' ')) {
    const comma = part.indexOf(',')
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue
    candidates.push(Buffer.from(part.slice(comma + 1), 'base64'))
  }
  let matched = false
  for (const key of keys) {
    const expected = Buffer.from(sign(key, id, timestamp, body), 'base64')
    for (const candidate of candidates) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true
    }
  }
  return matched ? { outcome: 'verified' } : { outcome: 'signature_invalid' }
}
