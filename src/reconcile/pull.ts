import type { Mapper } from '../mappers/index.js'
import { AccountState, type Operation, SubscriptionState } from '../mappers/operations.js'
import type { SourceFormat } from '../sources/sources.js'

/** A GET on the source's BSS API (the callback client bound to one source). */
export type Get = (path: string, query?: Record<string, string>) => Promise<unknown>

/** One object as the BSS holds it now, or why it could not be read. */
export type Pulled =
  | { ok: true; op: Operation }
  | { ok: false; kind: 'account' | 'subscription'; id: string | null; reason: string }

const MAX_PAGES = 10_000

/**
 * Every account and subscription of a source's BSS, as canonical operations versioned at
 * `fetchedAt` (state read now is newer than anything delivered before it). Accounts first, so
 * a subscription's account is always known by the time it applies.
 */
export function pullerFor(
  format: SourceFormat,
  mappers: { partnerCenter: Mapper; cloudblueConnect: Mapper },
): ((get: Get, fetchedAt: Date) => AsyncIterable<Pulled>) | undefined {
  switch (format) {
    case 'canonical':
    case 'mapping':
      return pullTiersyncApi
    case 'partner-center':
      return (get, at) => pullPartnerCenter(get, at, mappers.partnerCenter)
    case 'cloudblue-connect':
      return (get, at) => pullConnect(get, at, mappers.cloudblueConnect)
    case 'interworks':
      // interworks.cloud pushes to a Service Manager; it publishes no listing to pull from.
      return undefined
  }
}

/**
 * A home-grown BSS exposes two listings in canonical shape (documented in the README):
 * `GET /accounts` and `GET /subscriptions`, each `{ data: [...], next_cursor?: string }`, paged
 * with `?cursor=`.
 */
async function* pullTiersyncApi(get: Get, fetchedAt: Date): AsyncIterable<Pulled> {
  const version = { sequence: null, occurredAt: fetchedAt }
  for (const kind of ['account', 'subscription'] as const) {
    let cursor: string | undefined
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = (await get(`/${kind}s`, cursor ? { cursor } : undefined)) as {
        data?: unknown
        next_cursor?: unknown
      }
      const items = Array.isArray(body?.data) ? body.data : []
      for (const item of items) {
        const parsed = (kind === 'account' ? AccountState : SubscriptionState).safeParse(item)
        const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : null
        if (!parsed.success) {
          yield { ok: false, kind, id, reason: parsed.error.issues.map((i) => i.message).join('; ') }
        } else if (kind === 'account') {
          const state = parsed.data as AccountState
          yield { ok: true, op: { kind, action: 'upsert', version, eventType: 'account.updated', state } }
        } else {
          const state = parsed.data as SubscriptionState
          yield { ok: true, op: { kind, version, eventType: 'subscription.updated', state } }
        }
      }
      if (typeof body?.next_cursor !== 'string' || body.next_cursor === '') break
      cursor = body.next_cursor
    }
  }
}

type PcList = { items?: unknown[]; links?: { next?: { uri?: string } } }

/** Partner Center: the customers, then each customer's subscriptions, mapped as a thin notification would be. */
async function* pullPartnerCenter(get: Get, fetchedAt: Date, mapper: Mapper): AsyncIterable<Pulled> {
  for await (const listed of pages(get, '/v1/customers')) {
    const cid = (listed as { id?: unknown }).id
    if (typeof cid !== 'string') continue
    // The listing carries less than the customer resource a notification reads (no billing
    // profile): read the same resource, so an unchanged customer compares equal.
    const customer = await get(`/v1/customers/${encodeURIComponent(cid)}`)
    for await (const sub of pages(get, `/v1/customers/${encodeURIComponent(cid)}/subscriptions`)) {
      const sid = (sub as { id?: unknown }).id
      if (typeof sid !== 'string') continue
      const notification = {
        EventName: 'subscription-updated',
        ResourceUri: `/v1/customers/${encodeURIComponent(cid)}/subscriptions/${encodeURIComponent(sid)}`,
        ResourceName: 'subscription',
        ResourceChangeUtcDate: fetchedAt.toISOString(),
      }
      const mapped = await mapper.map(notification, { fetched: { subscription: sub, customer }, fetchedAt })
      if (!mapped.ok) {
        yield { ok: false, kind: 'subscription', id: sid, reason: mapped.reason }
        continue
      }
      for (const op of mapped.operations) yield { ok: true, op }
    }
  }
}

async function* pages(get: Get, first: string): AsyncIterable<unknown> {
  let next: { path: string; query?: Record<string, string> } | undefined = { path: first }
  const seen = new Set<string>()
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const body = (await get(next.path, next.query)) as PcList
    const items = Array.isArray(body?.items) ? body.items : []
    // A next link that needs its continuation header to advance would serve the same page again.
    const firstId = String((items[0] as { id?: unknown } | undefined)?.id)
    if (items.length > 0 && seen.has(firstId)) return
    seen.add(firstId)
    for (const item of items) yield item
    next = nextLink(body?.links?.next?.uri)
  }
}

/** Only the path and query of a next link are followed: the host is always the source's base URL. */
function nextLink(uri: unknown): { path: string; query: Record<string, string> } | undefined {
  if (typeof uri !== 'string' || !uri.startsWith('/') || uri.startsWith('//')) return undefined
  const url = new URL(uri, 'http://next.invalid')
  const path = url.pathname.startsWith('/v1/') ? url.pathname : `/v1${url.pathname}`
  return { path, query: Object.fromEntries(url.searchParams) }
}

const CONNECT_ASSET_STATES: Record<string, string> = {
  active: 'purchase',
  suspended: 'suspend',
  terminated: 'cancel',
}

/** CloudBlue Connect: the assets, each read as the approved request that would have made it so. */
async function* pullConnect(get: Get, fetchedAt: Date, mapper: Mapper): AsyncIterable<Pulled> {
  const limit = 100
  for (let page = 0; page < MAX_PAGES; page++) {
    const body = await get('/public/v1/assets', { limit: String(limit), offset: String(page * limit) })
    const assets = Array.isArray(body) ? body : []
    for (const asset of assets) {
      const type = CONNECT_ASSET_STATES[String((asset as { status?: unknown }).status)]
      // Assets still being provisioned (draft, processing) are not subscriptions yet.
      if (!type) continue
      const request = {
        id: `PR-RECONCILE`,
        type,
        status: 'approved',
        asset,
        created: fetchedAt.toISOString(),
        updated: fetchedAt.toISOString(),
      }
      const mapped = await mapper.map(request, { fetched: {}, fetchedAt })
      const id = typeof (asset as { id?: unknown }).id === 'string' ? (asset as { id: string }).id : null
      if (!mapped.ok) {
        yield { ok: false, kind: 'subscription', id, reason: mapped.reason }
        continue
      }
      for (const op of mapped.operations) yield { ok: true, op }
    }
    if (assets.length < limit) break
  }
}
