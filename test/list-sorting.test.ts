import { describe, expect, it } from 'vitest'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'

// Lists page by id by default; with `sort` they page by a timestamp (keyset on value and id),
// and a cursor only continues the sort it was issued for.
const t = await createTestApp()
for (let i = 0; i < 5; i++) await createSourceViaApi(t, { reseller: { name: `Reseller ${i}` } })

async function all(path: string, sort?: string) {
  const seen: { id: string; created_at: string }[] = []
  let cursor: string | undefined
  for (let i = 0; i < 20; i++) {
    const q = new URLSearchParams({ limit: '2', ...(sort && { sort }), ...(cursor && { cursor }) })
    const res = await t.app.request(`${path}?${q}`, { headers: bearer(t.adminKey) })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { id: string; created_at: string }[]; next_cursor?: string }
    seen.push(...body.data)
    cursor = body.next_cursor
    if (!cursor) break
  }
  return seen
}

describe('sorted lists', () => {
  it('pages accounts newest first and oldest first, without gaps or repeats', async () => {
    const newest = await all('/v1/accounts', '-created_at')
    expect(newest).toHaveLength(5)
    expect(newest.map((a) => a.created_at)).toEqual([...newest.map((a) => a.created_at)].sort().reverse())
    const oldest = await all('/v1/accounts', 'created_at')
    expect(oldest.map((a) => a.id)).toEqual([...newest.map((a) => a.id)].reverse())
    const byId = await all('/v1/accounts')
    expect(byId.map((a) => a.id)).toEqual([...byId.map((a) => a.id)].sort())
  })

  it('refuses a cursor issued for another sort, and an unknown sort', async () => {
    const first = await t.app.request('/v1/accounts?limit=1&sort=-created_at', {
      headers: bearer(t.adminKey),
    })
    const { next_cursor } = (await first.json()) as { next_cursor: string }
    const other = await t.app.request(`/v1/accounts?limit=1&sort=updated_at&cursor=${next_cursor}`, {
      headers: bearer(t.adminKey),
    })
    expect(other.status).toBe(400)
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('bad_request')
    const unknown = await t.app.request('/v1/accounts?sort=name', { headers: bearer(t.adminKey) })
    expect(unknown.status).toBe(400)
  })
})
