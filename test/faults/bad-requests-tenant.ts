import { customer, event, type Kit, signed } from './bad-requests-corpus.js'
import type { RawRequest } from './raw-http.js'

/** Hostile strings, cross-tenant ids, locked fields, unknown routes and methods. */
export function tenantCases(k: Kit): void {
  const { w, add, hook, post, signedAt, get, invalidSig } = k
  // Unicode and SQL-looking strings: stored verbatim or refused whole, never altered.
  const strings = [
    "'; DROP TABLE inbox; --",
    "Robert'); DROP TABLE accounts;--",
    '" OR 1=1 --',
    '$1 $2 ::text',
    '\\x00\\u0000',
    '🧾🏢 Ünïcødé',
    '\u202Egnp.exe',
    'zero\u200Bwidth',
    'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
    '客户有限公司',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '%s%n%x',
    '<script>alert(1)</script>',
  ]
  strings.forEach((s, i) => {
    const id = `str-${i}`
    const text = event('account.created', customer(id, { name: s }))
    add(
      'strings',
      `name ${JSON.stringify(s).slice(0, 30)}`,
      post(text, signed(w.a.secret, text)),
      { status: 202 },
      { kind: 'account-verbatim', externalId: id, name: s },
    )
    const sqlId = `${s}-${i}`
    if (!sqlId.includes('\u0000')) {
      const t2 = event('account.created', customer(sqlId))
      add(
        'strings',
        `id ${JSON.stringify(sqlId).slice(0, 30)}`,
        post(t2, signed(w.a.secret, t2)),
        { status: 202 },
        { kind: 'account-verbatim', externalId: sqlId, name: `Customer ${sqlId}` },
      )
    }
  })
  for (const [label, s] of [
    ['lone surrogate', '\ud800'],
    ['NUL', 'a\u0000b'],
  ] as const) {
    const id = `str-bad-${label.replace(' ', '-')}`
    const text = event('account.created', customer(id, { name: s }))
    // JSON carries them; Postgres cannot store them: acknowledged, then refused by the worker.
    add(
      'strings',
      `name with a ${label}`,
      post(text, signed(w.a.secret, text)),
      { status: 202 },
      { kind: 'never-applied', externalId: id },
    )
  }
  for (const path of [
    "/v1/webhooks/'%20OR%201=1--",
    '/v1/webhooks/1;DROP%20TABLE%20inbox',
    '/v1/webhooks/%00',
    `/v1/webhooks/${'9'.repeat(4000)}`,
  ])
    add('strings', `source id ${path.slice(13, 40)}`, signedAt(path), {
      status: 404,
      code: 'source_not_found',
    })
  add('strings', 'accounts q with SQL', get('/v1/accounts?q=%27%20OR%201%3D1--'), { status: 200 })
  add('strings', 'accounts source_id with SQL', get('/v1/accounts?source_id=%27%20OR%201%3D1--'), {
    status: 400,
    code: 'bad_request',
    detailPath: 'source_id',
  })
  add('strings', 'events source_id with SQL', get('/v1/events?source_id=1%20OR%201=1'), {
    status: 400,
    code: 'bad_request',
    detailPath: 'source_id',
  })

  // Cross-tenant: A naming B's objects reaches nothing of B's (ids are scoped by source).
  const waits = (label: string, body: string, id: string) =>
    add(
      'cross-tenant',
      label,
      post(body, signed(w.a.secret, body)),
      { status: 202 },
      { kind: 'never-applied', externalId: id },
    )
  waits(
    "A's customer under B's reseller",
    event('account.created', customer('x-1', { parent_id: w.b_ids.reseller })),
    'x-1',
  )
  waits(
    "A's customer under B's reseller by uuid",
    event('account.created', customer('x-2', { parent_id: w.b_ids.customerUuid })),
    'x-2',
  )
  const sub = (id: string, over: Record<string, unknown>) =>
    event('subscription.created', {
      id,
      account_id: 'a-cust',
      product: { sku: 'X' },
      status: 'active',
      paid: true,
      quantity: 1,
      billing_cycle: 'monthly',
      ...over,
    })
  waits("A's subscription on B's customer", sub('x-3', { account_id: w.b_ids.customer }), 'x-3')
  waits("A's add-on of B's subscription", sub('x-4', { parent_subscription_id: w.b_ids.subscription }), 'x-4')
  waits("A's subscription on B's customer uuid", sub('x-5', { account_id: w.b_ids.customerUuid }), 'x-5')
  {
    const body = event('account.deleted', { id: w.b_ids.customer }, { sequence: 99 })
    add('cross-tenant', "A closing B's customer", post(body, signed(w.a.secret, body)), { status: 202 })
  }
  for (const [label, s, secret] of [
    ["B's endpoint signed with A's secret", w.b, w.a.secret],
    ["A's endpoint signed with B's secret", w.a, w.b.secret],
  ] as const) {
    const body = event('account.updated', customer(w.b_ids.customer, { name: 'hijacked' }), { sequence: 100 })
    add('cross-tenant', label, post(body, signed(secret, body), s), invalidSig)
  }

  // Locked fields: any synced field in a PATCH is a 409 naming them, and nothing changes.
  const patch = (body: unknown, key: string | null = w.admin, id = w.account): RawRequest => ({
    method: 'PATCH',
    path: `/v1/accounts/${id}`,
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  })
  const locked = { status: 409, code: 'field_locked' }
  const fields = ['name', 'number', 'email', 'billing_address', 'type', 'parent', 'parent_id']
  for (const f of fields)
    add('locked', `PATCH ${f}`, patch({ [f]: f === 'billing_address' ? { city: 'X' } : 'changed' }), locked)
  add('locked', 'PATCH name and email', patch({ name: 'x', email: 'x@example.com' }), locked)
  add('locked', 'PATCH notes with name', patch({ notes: 'sneaky', name: 'x' }), locked)
  add('locked', 'PATCH every synced field', patch(Object.fromEntries(fields.map((f) => [f, null]))), locked)
  add('locked', 'PATCH tags with parent_id null', patch({ tags: ['vip'], parent_id: null }), locked)
  add('locked', 'PATCH an unknown field', patch({ status: 'closed' }), { status: 400, code: 'bad_request' })
  add('locked', 'PATCH tags as a string', patch({ tags: 'vip' }), {
    status: 400,
    code: 'bad_request',
    detailPath: 'tags',
  })
  add('locked', 'PATCH notes as a number', patch({ notes: 123 }), {
    status: 400,
    code: 'bad_request',
    detailPath: 'notes',
  })
  add('locked', 'PATCH an array', patch([]), { status: 400, code: 'bad_request' })
  add('locked', 'PATCH without a key', patch({ name: 'x' }, null), { status: 401, code: 'unauthorized' })
  add('locked', 'PATCH with a viewer key', patch({ name: 'x' }, w.viewer), { status: 403, code: 'forbidden' })
  add(
    'locked',
    'PATCH an unknown account',
    patch({ notes: 'x' }, w.admin, '00000000-0000-4000-8000-000000000000'),
    { status: 404, code: 'not_found' },
  )
  add('locked', 'PATCH a non-uuid id', patch({ notes: 'x' }, w.admin, "1'%20OR%20'1'='1"), {
    status: 400,
    code: 'bad_request',
  })

  // Unknown routes and methods: 404 not_found, or 405 method_not_allowed with Allow.
  const notAllowed = { status: 405, code: 'method_not_allowed' }
  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND'])
    add(
      'routes',
      `${method} a webhook URL`,
      { method, path: hook(), headers: signed(w.a.secret, '') },
      notAllowed,
    )
  for (const [method, path] of [
    ['POST', '/healthz'],
    ['DELETE', '/v1/sources'],
    ['PUT', '/v1/accounts'],
    ['POST', '/openapi.json'],
    ['PATCH', '/v1/events'],
  ] as const)
    add(
      'routes',
      `${method} ${path}`,
      { method, path, headers: { authorization: `Bearer ${w.admin}` } },
      notAllowed,
    )
  for (const path of [
    '/v1/webhooks',
    '/v1/webhooks/',
    `/v1/webhooks/${w.a.id}/extra`,
    `/v1/webhook/${w.a.id}`,
    '/v2/webhooks',
    '/nope',
    '/v1/%2e%2e/admin',
    '/.env',
  ])
    add('routes', `POST ${path}`, signedAt(path), { status: 404, code: 'not_found' })
  // Under /v1 the key is checked before the route: an unknown path tells nothing without one.
  add(
    'routes',
    'GET /v1/accounts/x/y/z without a key',
    { method: 'GET', path: '/v1/accounts/x/y/z' },
    { status: 401, code: 'unauthorized' },
  )
  add('routes', 'GET /v1/accounts/x/y/z', get('/v1/accounts/x/y/z'), { status: 404, code: 'not_found' })
  add('routes', 'GET /v1/nothing-here', get('/v1/nothing-here'), { status: 404, code: 'not_found' })
  add(
    'routes',
    'GET /v1/webhooks/../sources without a key',
    { method: 'GET', path: '/v1/webhooks/../sources' },
    { status: 401, code: 'unauthorized' },
  )
}
