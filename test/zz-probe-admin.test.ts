import { it } from 'vitest'
import { bearer, createSourceViaApi, createTestApp } from './helpers/app.js'

const t = await createTestApp()
const src = await createSourceViaApi(t)
const cur = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
const M = '00000000-0000-4000-8000-000000000000'
async function show(
  label: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
  const res = await t.app.request(path, { method, headers: { ...bearer(t.adminKey), ...headers }, body })
  const h = [...res.headers.entries()].filter(([k]) =>
    ['allow', 'www-authenticate', 'content-type'].includes(k),
  )
  console.log(label, res.status, JSON.stringify(h), (await res.text()).slice(0, 300))
}
const J = { 'content-type': 'application/json' }
it('probe', async () => {
  await show('acc cursor nonuuid', 'GET', `/v1/accounts?cursor=${cur({ id: 'nope' })}`)
  await show('sub cursor nonuuid', 'GET', `/v1/subscriptions?cursor=${cur({ id: 'nope' })}`)
  await show('ev cursor nonnum', 'GET', `/v1/events?cursor=${cur({ id: 'nope' })}`)
  await show('inv cursor nonuuid', 'GET', `/v1/invoices?cursor=${cur({ id: 'nope' })}`)
  await show(
    'contacts cursor',
    'GET',
    `/v1/accounts/${src.account_id}/contacts?cursor=${cur({ sort: '-created_at', key: 'x', id: M })}`,
  )
  await show(
    'override unknown tenant',
    'POST',
    '/v1/price-book/overrides',
    JSON.stringify({
      tenant_id: M,
      sku: 'X',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '1',
      effective_from: '2026-01-01',
    }),
    J,
  )
  await show(
    'override customer? (tenant acct ok)',
    'POST',
    '/v1/price-book/overrides',
    JSON.stringify({
      tenant_id: src.account_id,
      sku: 'X',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '1',
      effective_from: '2026-01-01',
    }),
    J,
  )
  await show('credit notes list unknown', 'GET', `/v1/invoices/${M}/credit-notes`)
  await show('405', 'DELETE', `/v1/accounts/${M}`)
  await show('401', 'GET', '/v1/accounts', undefined, { authorization: 'Bearer nope' })
  await show(
    'reseller unknown tier',
    'PATCH',
    `/v1/price-book/resellers/${src.account_id}`,
    JSON.stringify({ tier: 'platinum-xyz' }),
    J,
  )
  await show('apikey no content-type', 'POST', '/v1/api-keys', JSON.stringify({ name: 'x', role: 'viewer' }))
  await show('apikey text/plain', 'POST', '/v1/api-keys', JSON.stringify({ name: 'x', role: 'viewer' }), {
    'content-type': 'text/plain',
  })
  await show('apikey bad json', 'POST', '/v1/api-keys', '{"name":', J)
  await show('apikey array', 'POST', '/v1/api-keys', '[]', J)
  await show('account patch no ct', 'PATCH', `/v1/accounts/${src.account_id}`, JSON.stringify({ notes: 'x' }))
  await show('account patch array', 'PATCH', `/v1/accounts/${src.account_id}`, '[1]', J)
  await show('account patch null', 'PATCH', `/v1/accounts/${src.account_id}`, 'null', J)
  await show('rotate no body', 'POST', `/v1/sources/${src.id}/secrets/rotate`)
  await show('rotate bad json', 'POST', `/v1/sources/${src.id}/secrets/rotate`, '{', J)
  await show('replay-all no body', 'POST', '/v1/events/replay')
  await show('runs no ct', 'POST', '/v1/invoice-runs', JSON.stringify({ period: '2026-11' }))
  await show('limit abc', 'GET', '/v1/accounts?limit=abc')
  await show('events since bad', 'GET', '/v1/events?until=2026-02-30')
  await show('activities due_before bad', 'GET', `/v1/accounts/${src.account_id}/activities?due_before=nope`)
  await show('tenant tree', 'GET', `/v1/accounts/${src.account_id}/tree`)
  await show('csv upper', 'GET', `/v1/invoices/${M.toUpperCase().replace(/0/g, 'A')}.csv`)
  await show('q long', 'GET', `/v1/accounts?q=${'x'.repeat(300)}`)
  await show('settings empty', 'PATCH', '/v1/price-book/settings', '{}', J)
  await show('tiers list', 'GET', '/v1/price-book/tiers')
  await show('source patch empty', 'PATCH', `/v1/sources/${src.id}`, '{}', J)
  await show('reconcile no api', 'POST', `/v1/sources/${src.id}/reconcile`)
  await show('event id 0', 'GET', '/v1/events/0')
  await show(
    'price huge',
    'POST',
    '/v1/price-book/prices',
    JSON.stringify({
      sku: 'X',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '99999999999999.999999',
      effective_from: '2026-01-01',
    }),
    J,
  )
  await show(
    'price num',
    'POST',
    '/v1/price-book/prices',
    JSON.stringify({
      sku: 'X',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: 1e21,
      effective_from: '2026-01-01',
    }),
    J,
  )
  await show(
    'effective_from 0000',
    'POST',
    '/v1/price-book/prices',
    JSON.stringify({
      sku: 'X',
      billing_cycle: 'monthly',
      currency: 'EUR',
      unit_price: '1',
      effective_from: '0000-01-01',
    }),
    J,
  )
  await show(
    'tax_rate 1',
    'PATCH',
    `/v1/price-book/resellers/${src.account_id}`,
    JSON.stringify({ tax_rate: 1 }),
    J,
  )
  await show('run period 0000', 'POST', '/v1/invoice-runs', JSON.stringify({ period: '0000-01' }), J)
  await show('tags nul', 'PATCH', `/v1/accounts/${src.account_id}`, JSON.stringify({ notes: 'a\u0000b' }), J)
  await show(
    'contact nul',
    'POST',
    `/v1/accounts/${src.account_id}/contacts`,
    JSON.stringify({ name: 'a\u0000b' }),
    J,
  )
  await show('q nul', 'GET', `/v1/accounts?q=a%00b`)
  await show('ext nul', 'GET', `/v1/subscriptions?external_id=a%00b`)
  await show('event type nul', 'GET', `/v1/events?type=a%00b`)
  await show('price sku nul', 'GET', `/v1/price-book/prices?sku=a%00b`)
})
