import { createHmac, randomBytes } from 'node:crypto'
import type { RawRequest } from './raw-http.js'

/**
 * The corpus of bad requests, built programmatically per category (the *-cases.ts files). Each
 * case names the exact answer the contract (sections 2 and 4) gives it; `stored` cases are the
 * few a careful server must accept (a valid envelope carrying hostile strings), checked
 * afterwards for what the worker made of them.
 */
export type Expect = { status: number; code?: string; detailPath?: string }
export type Case = { category: string; name: string; req: RawRequest; expect: Expect; stored?: StoredCheck }
/** What must become of an accepted case once the worker is done. */
export type StoredCheck =
  | { kind: 'account-verbatim'; externalId: string; name: string }
  | { kind: 'never-applied'; externalId: string }

export type Source = { id: string; secret: string }
export type World = {
  a: Source
  b: Source
  /** A source whose secret was rotated with no grace: `oldSecret` verifies nothing any more. */
  rotated: Source & { oldSecret: string }
  b_ids: { reseller: string; customer: string; subscription: string; customerUuid: string }
  /** An account of A (synced) and keys for the admin API. */
  account: string
  admin: string
  viewer: string
}

export const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Standard Webhooks v1 by hand, so a case can sign any timestamp string, valid or not. */
export function sign(secret: string, id: string, ts: string, body: string | Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64')}`
}

export function signed(
  secret: string,
  body: string | Buffer,
  over: { id?: string; ts?: string; signature?: string; contentType?: string | null } = {},
): Record<string, string> {
  const id = over.id ?? `msg_${randomBytes(8).toString('hex')}`
  const ts = over.ts ?? String(nowSeconds())
  const headers: Record<string, string> = {
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': over.signature ?? sign(secret, id, ts, body),
  }
  if (over.contentType !== null) headers['content-type'] = over.contentType ?? 'application/json'
  return headers
}

export const ping = () =>
  JSON.stringify({ type: 'test.ping', occurred_at: new Date().toISOString(), data: {} })
export const event = (type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type, occurred_at: '2026-11-01T09:00:00Z', sequence: 1, data, ...extra })
export const customer = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  type: 'customer',
  parent_id: null,
  name: `Customer ${id}`,
  ...over,
})

/** What every category builds its cases with. */
export function makeKit(w: World) {
  const cases: Case[] = []
  const add = (category: string, name: string, req: RawRequest, expect: Expect, stored?: StoredCheck) =>
    cases.push({ category, name, req, expect, ...(stored && { stored }) })
  const hook = (s: Source = w.a) => `/v1/webhooks/${s.id}`
  const post = (body: string | Buffer, headers: Record<string, string>, s: Source = w.a): RawRequest => ({
    path: hook(s),
    headers,
    body,
  })
  /** A signed ping to any path (the path, not the signature, is what such a case is about). */
  const signedAt = (path: string): RawRequest => {
    const body = ping()
    return { path, headers: signed(w.a.secret, body), body }
  }
  const get = (path: string, key = w.admin): RawRequest => ({
    method: 'GET',
    path,
    headers: { authorization: `Bearer ${key}` },
  })
  return { w, cases, add, hook, post, signedAt, get, invalidSig: { status: 401, code: 'signature_invalid' } }
}
export type Kit = ReturnType<typeof makeKit>
