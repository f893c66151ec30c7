import { OpenAPIHono } from '@hono/zod-openapi'
import { requestId } from 'hono/request-id'
import { describe, expect, it } from 'vitest'
import { AppError } from '../src/errors.js'
import { activitiesRoutes } from '../src/routes/activities.js'
import { contactsRoutes } from '../src/routes/contacts.js'
import { errorResponse, onError } from '../src/routes/error-handler.js'
import type { Env } from '../src/routes/openapi.js'
import { bearer, createSourceViaApi, createTestApp, RESELLER, type TestApp } from './helpers/app.js'
import { account, sender, settled } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

const t = await createTestApp()
startTestWorker(t)

/** The real app once src/app.ts mounts these routers; until then the same routers on a bare app. */
function appUnderTest(t: TestApp) {
  if (t.app.routes.some((r) => r.path.startsWith('/v1/contacts'))) return t.app
  const app = new OpenAPIHono<Env>()
  app.use('*', requestId({ headerName: 'x-request-id' }))
  app.route('/v1', contactsRoutes(t.deps))
  app.route('/v1', activitiesRoutes(t.deps))
  app.notFound((c) => errorResponse(c, new AppError('not_found')))
  app.onError(onError(t.deps.log))
  return app
}
const app = appUnderTest(t)

let resellers = 0
/** A fresh tenant reseller account, so each list below sees only its own rows. */
async function newAccount(): Promise<string> {
  resellers += 1
  const reseller = { ...RESELLER, name: `Reseller ${resellers}`, number: `R-${9000 + resellers}` }
  return (await createSourceViaApi(t, { name: `BSS ${resellers}`, reseller })).account_id
}

const keys = { admin: t.adminKey, billing: await t.keyFor('billing'), viewer: await t.keyFor('viewer') }
const MISSING = '00000000-0000-4000-8000-000000000000'

type Opts = { key?: string | null; body?: unknown }
function call(method: string, path: string, { key = keys.admin, body }: Opts = {}) {
  return app.request(path, {
    method,
    headers: {
      ...(key === null ? {} : bearer(key)),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}
async function ok<T = Record<string, unknown>>(res: Response, status = 200): Promise<T> {
  const text = await res.text()
  expect(res.status, text).toBe(status)
  return (JSON.parse(text) as { data: T }).data
}
type ErrorBody = { error: { code: string; request_id: string | null; details?: { path: string }[] } }
async function fails(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const body = (await res.json()) as ErrorBody
  expect(res.status, JSON.stringify(body)).toBe(status)
  expect(body.error.code).toBe(code)
  expect(body.error.request_id).toBeTruthy()
  return body.error
}
const paths = (e: ErrorBody['error']) => (e.details ?? []).map((d) => d.path)

/** Every page of a list, following next_cursor; fails on a page that repeats an id. */
async function allPages(path: string, key = keys.admin): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const sep = path.includes('?') ? '&' : '?'
    const res = await call('GET', `${path}${cursor ? `${sep}cursor=${cursor}` : ''}`, { key })
    const body = (await res.json()) as { data: { id: string }[]; next_cursor?: string }
    expect(res.status).toBe(200)
    ids.push(...body.data.map((r) => r.id))
    cursor = body.next_cursor
    pages += 1
  } while (cursor && pages < 50)
  expect(new Set(ids).size).toBe(ids.length)
  return { ids, pages }
}

/** Each route: 401 without or with a bad key; viewer and billing read, and get 403 on writes. */
async function checkAuth(routes: [string, string, unknown?][]) {
  for (const [method, path, body] of routes) {
    await fails(await call(method, path, { key: null, body }), 401, 'unauthorized')
    await fails(await call(method, path, { key: 'tsk_not-a-key', body }), 401, 'unauthorized')
    for (const key of [keys.viewer, keys.billing]) {
      const res = await call(method, path, { key, body })
      if (method === 'GET') expect(res.status).toBe(200)
      else await fails(res, 403, 'forbidden')
    }
  }
}

describe('contacts', () => {
  it('creates, reads, lists, changes and deletes a contact', async () => {
    const accountId = await newAccount()
    const created = await ok<{ id: string }>(
      await call('POST', `/v1/accounts/${accountId}/contacts`, {
        body: {
          name: 'Maria Papadopoulou',
          email: 'maria@cloudresell.example',
          phone: '+30 210 1234567',
          role: 'billing',
          notes: 'Prefers email',
        },
      }),
      201,
    )
    expect(created).toMatchObject({
      account_id: accountId,
      name: 'Maria Papadopoulou',
      email: 'maria@cloudresell.example',
      phone: '+30 210 1234567',
      role: 'billing',
      notes: 'Prefers email',
    })
    expect(await ok(await call('GET', `/v1/contacts/${created.id}`, { key: keys.viewer }))).toEqual(created)
    const list = await ok<{ id: string }[]>(
      await call('GET', `/v1/accounts/${accountId}/contacts`, { key: keys.billing }),
    )
    expect(list.map((c) => c.id)).toEqual([created.id])

    const patched = await ok(
      await call('PATCH', `/v1/contacts/${created.id}`, { body: { role: 'technical', email: null } }),
    )
    expect(patched).toMatchObject({
      name: 'Maria Papadopoulou',
      role: 'technical',
      email: null,
      notes: 'Prefers email',
    })

    const del = await call('DELETE', `/v1/contacts/${created.id}`)
    expect(del.status).toBe(204)
    expect(await del.text()).toBe('')
    await fails(await call('GET', `/v1/contacts/${created.id}`), 404, 'not_found')
    await fails(await call('DELETE', `/v1/contacts/${created.id}`), 404, 'not_found')
    expect(await t.db.sql`select 1 from contacts where id = ${created.id}`).toHaveLength(0)
  })

  it('may be added to an account synced from a reseller BSS (synced fields untouched)', async () => {
    const source = await createSourceViaApi(t, {
      name: 'Synced BSS',
      reseller: { ...RESELLER, name: 'Synced', number: 'R-7777' },
    })
    await sender(t, source).send(account('cust-contacts'))
    await settled(t)
    const [synced] = await t.db.sql<{ id: string; name: string }[]>`
      select id, name from accounts where source_id = ${source.id} and external_id = 'cust-contacts'`
    expect(synced).toBeDefined()
    const contact = await ok(
      await call('POST', `/v1/accounts/${synced?.id}/contacts`, { body: { name: 'IT desk' } }),
      201,
    )
    expect(contact).toMatchObject({
      account_id: synced?.id,
      email: null,
      phone: null,
      role: null,
      notes: null,
    })
    const [after] = await t.db.sql`select name from accounts where id = ${synced?.id ?? ''}`
    expect(after?.name).toBe(synced?.name)
  })

  it('validates the body: 400 naming the fields', async () => {
    const accountId = await newAccount()
    const post = (body: unknown) => call('POST', `/v1/accounts/${accountId}/contacts`, { body })
    expect(paths(await fails(await post({ email: 'a@b.example' }), 400, 'bad_request'))).toContain('name')
    expect(
      paths(await fails(await post({ name: 'A', email: 'not-an-email' }), 400, 'bad_request')),
    ).toContain('email')
    expect(paths(await fails(await post({ name: 'A', phone: 'call me' }), 400, 'bad_request'))).toContain(
      'phone',
    )
    await fails(await post({ name: '   ' }), 400, 'bad_request')
    await fails(await post({ name: 'A', source_id: MISSING }), 400, 'bad_request')
    const c = await ok<{ id: string }>(await post({ name: 'A' }), 201)
    await fails(await call('PATCH', `/v1/contacts/${c.id}`, { body: { name: null } }), 400, 'bad_request')
    await fails(
      await call('PATCH', `/v1/contacts/${c.id}`, { body: { account_id: MISSING } }),
      400,
      'bad_request',
    )
    expect(await t.db.sql`select 1 from contacts where account_id = ${accountId}`).toHaveLength(1)
  })

  it('answers 404 for an unknown account or contact and 400 for a malformed id', async () => {
    await fails(
      await call('POST', `/v1/accounts/${MISSING}/contacts`, { body: { name: 'A' } }),
      404,
      'not_found',
    )
    await fails(await call('GET', `/v1/accounts/${MISSING}/contacts`), 404, 'not_found')
    await fails(await call('GET', `/v1/contacts/${MISSING}`), 404, 'not_found')
    await fails(await call('PATCH', `/v1/contacts/${MISSING}`, { body: { name: 'B' } }), 404, 'not_found')
    await fails(await call('DELETE', `/v1/contacts/${MISSING}`), 404, 'not_found')
    await fails(await call('GET', '/v1/accounts/nope/contacts'), 400, 'bad_request')
    await fails(await call('POST', '/v1/accounts/nope/contacts', { body: { name: 'A' } }), 400, 'bad_request')
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      await fails(
        await call(method, '/v1/contacts/nope', { body: method === 'PATCH' ? {} : undefined }),
        400,
        'bad_request',
      )
    }
  })

  it('answers 401 without a valid key and 403 to viewer and billing writes', async () => {
    const accountId = await newAccount()
    const c = await ok<{ id: string }>(
      await call('POST', `/v1/accounts/${accountId}/contacts`, { body: { name: 'A' } }),
      201,
    )
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/accounts/${accountId}/contacts`],
      ['POST', `/v1/accounts/${accountId}/contacts`, { name: 'B' }],
      ['GET', `/v1/contacts/${c.id}`],
      ['PATCH', `/v1/contacts/${c.id}`, { name: 'B' }],
      ['DELETE', `/v1/contacts/${c.id}`],
    ]
    await checkAuth(routes)
    expect(await ok(await call('GET', `/v1/contacts/${c.id}`))).toMatchObject({ name: 'A' })
  })

  it('pages through every contact once under either sort, ties on created_at broken by id', async () => {
    const accountId = await newAccount()
    for (let i = 0; i < 4; i++) {
      await ok(await call('POST', `/v1/accounts/${accountId}/contacts`, { body: { name: `C${i}` } }), 201)
    }
    // One statement: the same created_at for all three.
    await t.db
      .sql`insert into contacts (account_id, name) select ${accountId}::uuid, 'tie ' || g from generate_series(1, 3) g`
    const expected = await t.db.sql<{ id: string }[]>`
      select id from contacts where account_id = ${accountId} order by created_at, id`
    const asc = await allPages(`/v1/accounts/${accountId}/contacts?sort=created_at&limit=2`)
    expect(asc.ids).toEqual(expected.map((r) => r.id))
    expect(asc.pages).toBe(4)
    const desc = await allPages(`/v1/accounts/${accountId}/contacts?limit=3`)
    expect(desc.ids).toEqual(expected.map((r) => r.id).reverse())
  })

  it('refuses a cursor issued for another sort, or a forged one', async () => {
    const accountId = await newAccount()
    for (const name of ['A', 'B']) {
      await ok(await call('POST', `/v1/accounts/${accountId}/contacts`, { body: { name } }), 201)
    }
    const first = await call('GET', `/v1/accounts/${accountId}/contacts?sort=created_at&limit=1`)
    const { next_cursor } = (await first.json()) as { next_cursor: string }
    expect(next_cursor).toBeTruthy()
    const wrong = await fails(
      await call('GET', `/v1/accounts/${accountId}/contacts?sort=-created_at&cursor=${next_cursor}`),
      400,
      'bad_request',
    )
    expect(paths(wrong)).toEqual(['cursor'])
    await fails(await call('GET', `/v1/accounts/${accountId}/contacts?cursor=garbage`), 400, 'bad_request')
    await fails(await call('GET', `/v1/accounts/${accountId}/contacts?sort=name`), 400, 'bad_request')
  })
})

const samples = {
  email: {
    kind: 'email',
    subject: 'Renewal quote',
    body: 'Please find the quote attached.',
    from: 'sales@distributor.example',
    to: ['maria@cloudresell.example', 'it@cloudresell.example'],
  },
  task: { kind: 'task', subject: 'Call about renewal', due_at: '2026-12-01T09:00:00.000Z' },
  event: {
    kind: 'event',
    subject: 'Quarterly review',
    starts_at: '2026-12-02T10:00:00.000Z',
    ends_at: '2026-12-02T11:30:00.000Z',
  },
  document: {
    kind: 'document',
    name: 'Signed order form.pdf',
    link: 'https://files.distributor.example/orders/42.pdf',
    content_type: 'application/pdf',
  },
  case: { kind: 'case', subject: 'Licences not provisioned', priority: 'high' },
} as const
const defaults = {
  email: {},
  task: { status: 'open', body: null },
  event: { body: null },
  document: {},
  case: { status: 'open', body: null },
}

type Activity = { id: string; kind: string } & Record<string, unknown>
const postActivity = async (accountId: string, body: unknown) =>
  ok<Activity>(await call('POST', `/v1/accounts/${accountId}/activities`, { body }), 201)

describe('activities', () => {
  it.each(Object.keys(samples) as (keyof typeof samples)[])(
    'creates and reads back a %s with its fields',
    async (kind) => {
      const accountId = await newAccount()
      const created = await postActivity(accountId, samples[kind])
      expect(created).toMatchObject({ ...samples[kind], ...defaults[kind], account_id: accountId })
      expect(await ok(await call('GET', `/v1/activities/${created.id}`, { key: keys.viewer }))).toEqual(
        created,
      )
      const list = await ok<Activity[]>(
        await call('GET', `/v1/accounts/${accountId}/activities`, { key: keys.billing }),
      )
      expect(list).toEqual([created])
      // Only the kind's own fields are shown.
      const others = ['subject', 'body', 'status', 'from', 'to', 'due_at', 'starts_at', 'ends_at'].concat([
        'name',
        'link',
        'content_type',
        'priority',
      ])
      const own = Object.keys({ ...samples[kind], ...defaults[kind] })
      for (const field of others.filter((f) => !own.includes(f))) {
        expect(created).not.toHaveProperty(field)
      }
    },
  )

  it('filters by kind, status, due date and creation time, and sorts tasks by due date', async () => {
    const accountId = await newAccount()
    const late = await postActivity(accountId, {
      ...samples.task,
      subject: 'late',
      due_at: '2026-12-20T09:00:00+02:00',
    })
    const soon = await postActivity(accountId, {
      ...samples.task,
      subject: 'soon',
      due_at: '2026-12-05T09:00:00Z',
    })
    const done = await postActivity(accountId, {
      ...samples.task,
      subject: 'done',
      due_at: '2026-12-10T09:00:00Z',
      status: 'done',
    })
    const undated = await postActivity(accountId, { kind: 'task', subject: 'undated' })
    const kase = await postActivity(accountId, samples.case)
    const mail = await postActivity(accountId, samples.email)
    const list = async (q: string) =>
      (await ok<Activity[]>(await call('GET', `/v1/accounts/${accountId}/activities?${q}`))).map((a) => a.id)

    expect(await list('kind=task&sort=due_at')).toEqual([soon.id, done.id, late.id, undated.id])
    expect(await list('kind=task&sort=-due_at')).toEqual([late.id, done.id, soon.id, undated.id])
    expect(await list('kind=task&status=open&sort=due_at')).toEqual([soon.id, late.id, undated.id])
    expect(await list('status=open&sort=created_at')).toEqual([late.id, soon.id, undated.id, kase.id])
    expect(await list('status=done')).toEqual([done.id])
    expect(await list('due_before=2026-12-10T09:00:00Z&sort=due_at')).toEqual([soon.id])
    expect(await list('kind=email')).toEqual([mail.id])
    expect(await list('sort=-created_at')).toEqual([mail.id, kase.id, undated.id, done.id, soon.id, late.id])

    const [row] = await t.db.sql<{ at: string }[]>`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
      from activities where id = ${done.id}`
    const at = encodeURIComponent(row?.at ?? '')
    expect(await list(`since=${at}&sort=created_at`)).toEqual([done.id, undated.id, kase.id, mail.id])
    expect(await list(`until=${at}&sort=created_at`)).toEqual([late.id, soon.id])
    await fails(await call('GET', `/v1/accounts/${accountId}/activities?status=later`), 400, 'bad_request')
    await fails(await call('GET', `/v1/accounts/${accountId}/activities?kind=fax`), 400, 'bad_request')
    await fails(await call('GET', `/v1/accounts/${accountId}/activities?due_before=soon`), 400, 'bad_request')
  })

  it.each(['created_at', '-created_at', 'due_at', '-due_at'])(
    'pages through every activity once under sort=%s',
    async (sort) => {
      const accountId = await newAccount()
      for (let i = 0; i < 5; i++) {
        await postActivity(accountId, {
          kind: 'task',
          subject: `t${i}`,
          due_at: `2026-12-0${(i % 3) + 1}T09:00:00Z`,
        })
      }
      await postActivity(accountId, samples.case)
      // Ties: the same created_at (one statement), dated and undated.
      await t.db.sql`
        insert into activities (account_id, kind, subject, status, due_at)
        select ${accountId}::uuid, 'task', 'tie ' || g, 'open', case when g % 2 = 0 then '2026-12-02T09:00:00Z'::timestamptz end
        from generate_series(1, 4) g`
      const column = sort.replace('-', '')
      const desc = sort.startsWith('-')
      const expected = await t.db.sql<{ id: string }[]>`
        select id from activities where account_id = ${accountId}
        order by ${t.db.sql(column)} ${desc ? t.db.sql`desc` : t.db.sql`asc`} nulls last, id ${desc ? t.db.sql`desc` : t.db.sql`asc`}`
      const { ids, pages } = await allPages(`/v1/accounts/${accountId}/activities?sort=${sort}&limit=3`)
      expect(ids).toEqual(expected.map((r) => r.id))
      expect(ids).toHaveLength(10)
      expect(pages).toBe(4)
    },
  )

  it('refuses a cursor issued for another sort', async () => {
    const accountId = await newAccount()
    await postActivity(accountId, samples.task)
    await postActivity(accountId, samples.task)
    const first = await call('GET', `/v1/accounts/${accountId}/activities?sort=due_at&limit=1`)
    const { next_cursor } = (await first.json()) as { next_cursor: string }
    for (const sort of ['-due_at', 'created_at', '-created_at']) {
      const e = await fails(
        await call('GET', `/v1/accounts/${accountId}/activities?sort=${sort}&cursor=${next_cursor}`),
        400,
        'bad_request',
      )
      expect(paths(e)).toEqual(['cursor'])
    }
    const again = await call(
      'GET',
      `/v1/accounts/${accountId}/activities?sort=due_at&limit=1&cursor=${next_cursor}`,
    )
    expect(again.status).toBe(200)
  })

  it('changes the fields of its own kind only; the kind is immutable', async () => {
    const accountId = await newAccount()
    const task = await postActivity(accountId, samples.task)
    const patched = await ok(
      await call('PATCH', `/v1/activities/${task.id}`, {
        body: { status: 'done', due_at: null, body: 'Called, renewed' },
      }),
    )
    expect(patched).toMatchObject({
      kind: 'task',
      subject: samples.task.subject,
      status: 'done',
      due_at: null,
      body: 'Called, renewed',
    })
    expect(
      await ok(
        await call('PATCH', `/v1/activities/${task.id}`, { body: { kind: 'task', status: 'cancelled' } }),
      ),
    ).toMatchObject({ status: 'cancelled' })

    const kind = await fails(
      await call('PATCH', `/v1/activities/${task.id}`, { body: { kind: 'case', status: 'open' } }),
      400,
      'bad_request',
    )
    expect(paths(kind)).toEqual(['kind'])
    const foreign = await fails(
      await call('PATCH', `/v1/activities/${task.id}`, { body: { priority: 'urgent' } }),
      400,
      'bad_request',
    )
    expect(JSON.stringify(foreign.details)).toContain('priority')
    const status = await fails(
      await call('PATCH', `/v1/activities/${task.id}`, { body: { status: 'pending' } }),
      400,
      'bad_request',
    )
    expect(paths(status)).toEqual(['status'])
    await fails(
      await call('PATCH', `/v1/activities/${task.id}`, { body: { subject: '' } }),
      400,
      'bad_request',
    )
    expect(await ok(await call('GET', `/v1/activities/${task.id}`))).toMatchObject({
      kind: 'task',
      status: 'cancelled',
    })

    const mail = await postActivity(accountId, samples.email)
    expect(
      await ok(
        await call('PATCH', `/v1/activities/${mail.id}`, {
          body: { to: ['ops@cloudresell.example'], from: null },
        }),
      ),
    ).toMatchObject({ kind: 'email', to: ['ops@cloudresell.example'], from: null, body: samples.email.body })
    expect(await ok(await call('PATCH', `/v1/activities/${mail.id}`, { body: { to: [] } }))).toMatchObject({
      to: [],
    })

    const kase = await postActivity(accountId, samples.case)
    expect(
      await ok(
        await call('PATCH', `/v1/activities/${kase.id}`, { body: { status: 'pending', priority: 'urgent' } }),
      ),
    ).toMatchObject({ kind: 'case', status: 'pending', priority: 'urgent', subject: samples.case.subject })
  })

  it('keeps an event ending no earlier than it starts', async () => {
    const accountId = await newAccount()
    const early = { ...samples.event, ends_at: '2026-12-02T09:59:59Z' }
    expect(
      paths(
        await fails(
          await call('POST', `/v1/accounts/${accountId}/activities`, { body: early }),
          400,
          'bad_request',
        ),
      ),
    ).toEqual(['ends_at'])
    const event = await postActivity(accountId, { ...samples.event, ends_at: samples.event.starts_at })
    // Only ends_at given: checked against the stored starts_at (by the database).
    const e = await fails(
      await call('PATCH', `/v1/activities/${event.id}`, { body: { ends_at: '2026-12-01T00:00:00Z' } }),
      400,
      'bad_request',
    )
    expect(paths(e)).toEqual(['ends_at'])
    await fails(
      await call('PATCH', `/v1/activities/${event.id}`, {
        body: { starts_at: '2026-12-03T10:00:00Z', ends_at: '2026-12-03T09:00:00Z' },
      }),
      400,
      'bad_request',
    )
    const moved = await ok(
      await call('PATCH', `/v1/activities/${event.id}`, {
        body: { starts_at: '2026-12-03T10:00:00+01:00', ends_at: '2026-12-03T10:00:00Z' },
      }),
    )
    expect(moved).toMatchObject({
      starts_at: '2026-12-03T09:00:00.000Z',
      ends_at: '2026-12-03T10:00:00.000Z',
    })
    await expect(
      t.db.sql`update activities set ends_at = starts_at - interval '1 second' where id = ${event.id}`,
    ).rejects.toMatchObject({ code: '23514' })
  })

  it('accepts only http and https document links', async () => {
    const accountId = await newAccount()
    for (const link of [
      'ftp://files.example/a.pdf',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'not a url',
    ]) {
      const e = await fails(
        await call('POST', `/v1/accounts/${accountId}/activities`, { body: { ...samples.document, link } }),
        400,
        'bad_request',
      )
      expect(paths(e)).toEqual(['link'])
    }
    await fails(
      await call('POST', `/v1/accounts/${accountId}/activities`, {
        body: { ...samples.document, content_type: 'pdf' },
      }),
      400,
      'bad_request',
    )
    const doc = await postActivity(accountId, { ...samples.document, link: 'http://intranet.example/a.pdf' })
    await fails(
      await call('PATCH', `/v1/activities/${doc.id}`, { body: { link: 'ftp://x.example/a' } }),
      400,
      'bad_request',
    )
    expect(await ok(await call('GET', `/v1/activities/${doc.id}`))).toMatchObject({
      link: 'http://intranet.example/a.pdf',
    })
    expect(await t.db.sql`select 1 from activities where account_id = ${accountId}`).toHaveLength(1)
  })

  it('validates the body: unknown kind, missing fields, fields of another kind', async () => {
    const accountId = await newAccount()
    const post = (body: unknown) => call('POST', `/v1/accounts/${accountId}/activities`, { body })
    await fails(await post({ kind: 'fax', subject: 'x' }), 400, 'bad_request')
    expect(paths(await fails(await post({ kind: 'task' }), 400, 'bad_request'))).toContain('subject')
    expect(
      paths(await fails(await post({ kind: 'task', subject: 'x', due_at: 'tomorrow' }), 400, 'bad_request')),
    ).toContain('due_at')
    await fails(await post({ kind: 'task', subject: 'x', status: 'pending' }), 400, 'bad_request')
    await fails(await post({ kind: 'task', subject: 'x', priority: 'high' }), 400, 'bad_request')
    await fails(await post({ kind: 'email', subject: 'x', to: ['nobody'] }), 400, 'bad_request')
    await fails(await post({ kind: 'document', link: samples.document.link }), 400, 'bad_request')
    expect(await t.db.sql`select 1 from activities where account_id = ${accountId}`).toHaveLength(0)
  })

  it('deletes an activity', async () => {
    const accountId = await newAccount()
    const a = await postActivity(accountId, samples.email)
    const res = await call('DELETE', `/v1/activities/${a.id}`)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    await fails(await call('GET', `/v1/activities/${a.id}`), 404, 'not_found')
    await fails(await call('DELETE', `/v1/activities/${a.id}`), 404, 'not_found')
  })

  it('answers 404 for an unknown account or activity and 400 for a malformed id', async () => {
    await fails(
      await call('POST', `/v1/accounts/${MISSING}/activities`, { body: samples.task }),
      404,
      'not_found',
    )
    await fails(await call('GET', `/v1/accounts/${MISSING}/activities`), 404, 'not_found')
    await fails(await call('GET', `/v1/activities/${MISSING}`), 404, 'not_found')
    await fails(
      await call('PATCH', `/v1/activities/${MISSING}`, { body: { subject: 'x' } }),
      404,
      'not_found',
    )
    await fails(await call('DELETE', `/v1/activities/${MISSING}`), 404, 'not_found')
    await fails(await call('GET', '/v1/accounts/nope/activities'), 400, 'bad_request')
    await fails(
      await call('POST', '/v1/accounts/nope/activities', { body: samples.task }),
      400,
      'bad_request',
    )
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      await fails(
        await call(method, '/v1/activities/nope', { body: method === 'PATCH' ? {} : undefined }),
        400,
        'bad_request',
      )
    }
  })

  it('answers 401 without a valid key and 403 to viewer and billing writes', async () => {
    const accountId = await newAccount()
    const a = await postActivity(accountId, samples.task)
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/accounts/${accountId}/activities`],
      ['POST', `/v1/accounts/${accountId}/activities`, samples.case],
      ['GET', `/v1/activities/${a.id}`],
      ['PATCH', `/v1/activities/${a.id}`, { status: 'done' }],
      ['DELETE', `/v1/activities/${a.id}`],
    ]
    await checkAuth(routes)
    expect(await ok(await call('GET', `/v1/activities/${a.id}`))).toMatchObject({ status: 'open' })
    expect(await t.db.sql`select 1 from activities where account_id = ${accountId}`).toHaveLength(1)
  })
})

describe('OpenAPI', () => {
  it('documents every route with its tag and error statuses', async () => {
    const doc = {
      ...contactsRoutes(t.deps).getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } })
        .paths,
      ...activitiesRoutes(t.deps).getOpenAPI31Document({
        openapi: '3.1.0',
        info: { title: 't', version: '1' },
      }).paths,
    } as Record<
      string,
      Record<string, { tags: string[]; summary: string; responses: Record<string, unknown> }>
    >
    const expected = {
      '/accounts/{id}/contacts': ['get', 'post'],
      '/contacts/{id}': ['get', 'patch', 'delete'],
      '/accounts/{id}/activities': ['get', 'post'],
      '/activities/{id}': ['get', 'patch', 'delete'],
    }
    expect(Object.keys(doc).sort()).toEqual(Object.keys(expected).sort())
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(doc[path] ?? {}).sort()).toEqual([...methods].sort())
      for (const method of methods) {
        const op = doc[path]?.[method]
        expect(op?.tags).toEqual([path.includes('contacts') ? 'Contacts' : 'Activities'])
        expect(op?.summary).toBeTruthy()
        expect(Object.keys(op?.responses ?? {})).toEqual(
          expect.arrayContaining(method === 'get' ? ['400', '401', '404'] : ['400', '401', '403', '404']),
        )
      }
    }
  })
})
