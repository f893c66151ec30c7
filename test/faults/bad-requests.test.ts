import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { serveApi } from '../../src/server.js'
import { createSourceViaApi, createTestApp, RESELLER } from '../helpers/app.js'
import { account, sender, settled, subscription } from '../helpers/reseller.js'
import { startTestWorker } from '../helpers/worker.js'
import { type Case, makeKit } from './bad-requests-corpus.js'
import { deliveryCases } from './bad-requests-delivery.js'
import { payloadCases } from './bad-requests-payload.js'
import { tenantCases } from './bad-requests-tenant.js'
import { printFigures } from './mirror.js'
import { type Answer, rawRequest } from './raw-http.js'
import { snapshot } from './snapshot.js'

// The real HTTP server (node adapter, socket, body limit while reading) of the real app, with a
// worker: a corpus of bad requests, each with the exact answer the contract gives it.
const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
startTestWorker(t)
// The server as the service runs it: the webhook route through its fast path.
const server = await serveApi(t.deps, t.app, { port: 0, hostname: '127.0.0.1' })
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
const base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)

const a = await createSourceViaApi(t)
const b = await createSourceViaApi(t, {
  name: 'Other BSS',
  reseller: { ...RESELLER, name: 'Other Reseller', number: 'R-2002' },
})
const toRotate = await createSourceViaApi(t)
const rotation = await t.app.request(`/v1/sources/${toRotate.id}/secrets/rotate`, {
  method: 'POST',
  headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
  body: JSON.stringify({ grace_hours: 0 }),
})
expect(rotation.status).toBe(200)
const rotated = { id: toRotate.id, secret: ((await rotation.json()) as { secret: string }).secret }

await sender(t, a).send(account('a-cust'))
const bss = sender(t, b)
await bss.send(account('b-res', { type: 'reseller' }))
await bss.send(account('b-cust', { parent_id: 'b-res' }))
await bss.send(subscription('b-sub', 'b-cust'))
await settled(t)
const idOf = async (source: string, externalId: string) => {
  const [row] = await t.db.sql<{ id: string }[]>`
    select id from accounts where source_id = ${source} and external_id = ${externalId}`
  if (!row) throw new Error(`no account ${externalId}`)
  return row.id
}

const kit = makeKit({
  a,
  b,
  rotated: { ...rotated, oldSecret: toRotate.secret },
  b_ids: {
    reseller: 'b-res',
    customer: 'b-cust',
    subscription: 'b-sub',
    customerUuid: await idOf(b.id, 'b-cust'),
  },
  account: await idOf(a.id, 'a-cust'),
  admin: t.adminKey,
  viewer: await t.keyFor('viewer'),
})
for (const category of [deliveryCases, payloadCases, tenantCases]) category(kit)
const { cases } = kit

async function inboxRows(): Promise<Record<string, number>> {
  const rows = await t.db.sql<{ source_id: string; n: number }[]>`
    select source_id, count(*)::int as n from inbox group by source_id`
  return Object.fromEntries(rows.map((r) => [r.source_id, r.n]))
}

/** Why an answer is not the expected one; undefined when it is. */
function mismatch(c: Case, r: Answer): string | undefined {
  const got = `${r.status} ${r.code ?? ''} ${r.error ?? r.text.slice(0, 160)}`
  if (r.status === 0 || r.status >= 500) return `no 5xx and an answer expected, got ${got}`
  if (r.status !== c.expect.status) return `expected ${c.expect.status} ${c.expect.code ?? ''}, got ${got}`
  if (r.status >= 400) {
    const body = JSON.parse(r.text) as {
      error: { code: string; message: string; request_id: string; details?: { path: string }[] }
    }
    if (body.error.code !== c.expect.code) return `expected code ${c.expect.code}, got ${got}`
    if (!body.error.message || !body.error.request_id) return `error body incomplete: ${r.text}`
    const paths = (Array.isArray(body.error.details) ? body.error.details : []).map((d) => d.path)
    if (c.expect.detailPath && !paths.includes(c.expect.detailPath))
      return `details should name ${c.expect.detailPath}: ${r.text.slice(0, 300)}`
    if (r.status === 405 && !r.headers.allow) return 'a 405 without Allow'
  }
  return undefined
}

describe(`${cases.length} bad requests against the real HTTP server`, () => {
  const before = { rows: {} as Record<string, number>, b: undefined as unknown }

  it('answers each with its contract status and code, never a 5xx', async () => {
    before.rows = await inboxRows()
    before.b = await snapshot(t.db.sql, b.id)
    const started = performance.now()
    const failures: string[] = []
    const perCategory: Record<string, number> = {}
    for (const c of cases) {
      perCategory[c.category] = (perCategory[c.category] ?? 0) + 1
      const why = mismatch(c, await rawRequest(base, c.req))
      if (why) failures.push(`${c.category} / ${c.name}: ${why}`)
    }
    printFigures('bad-requests', {
      sent: cases.length,
      acknowledged: cases.filter((c) => c.expect.status < 300 && c.req.path.startsWith('/v1/webhooks'))
        .length,
      per_category: perCategory,
      failures: failures.length,
      elapsed_s: Math.round((performance.now() - started) / 100) / 10,
    })
    expect(cases.length).toBeGreaterThanOrEqual(200)
    expect(failures).toEqual([])
  }, 120_000)

  it('stores nothing it refused; what it accepted ends verbatim or refused whole; B is untouched', async () => {
    await settled(t, 60_000)
    const accepted = cases.filter((c) => c.expect.status === 202)
    const after = await inboxRows()
    const delta = (id: string) => (after[id] ?? 0) - (before.rows[id] ?? 0)
    expect({ a: delta(a.id), b: delta(b.id), rotated: delta(rotated.id) }).toEqual({
      a: accepted.length,
      b: 0,
      rotated: 0,
    })

    const wrong: string[] = []
    for (const c of accepted) {
      const check = c.stored
      if (!check) continue
      const [acc] = await t.db.sql<{ name: string }[]>`
        select name from accounts where source_id = ${a.id} and external_id = ${check.externalId}`
      const [sub] = await t.db.sql<{ id: string }[]>`
        select id from subscriptions where source_id = ${a.id} and external_id = ${check.externalId}`
      if (check.kind === 'account-verbatim' && acc?.name !== check.name)
        wrong.push(`${c.name}: stored ${JSON.stringify(acc?.name)}`)
      if (check.kind === 'never-applied' && (acc || sub)) wrong.push(`${c.name}: a row was made`)
    }
    expect(wrong).toEqual([])
    // The refused-in-the-worker ones say why; none is left half-done.
    const statuses = await t.db.sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from inbox where source_id = ${a.id} group by status order by status`
    expect(
      statuses.map((s) => s.status).filter((s) => !['applied', 'failed', 'waiting'].includes(s)),
    ).toEqual([])

    expect(await snapshot(t.db.sql, b.id)).toEqual(before.b)
    const [mine] = await t.db.sql`
      select name, email, notes, tags, custom_attributes from accounts where source_id = ${a.id} and external_id = 'a-cust'`
    expect(mine).toEqual({
      name: 'Account a-cust',
      email: 'a-cust@example.com',
      notes: null,
      tags: [],
      custom_attributes: {},
    })
  }, 90_000)
})
