import { IncomingMessage, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'
import { frozenClock } from '../src/clock.js'
import { createSql } from '../src/db/client.js'
import { RequestAborted } from '../src/errors.js'
import { createInboxWriter } from '../src/inbox/inbox-writer.js'
import { eventJobId } from '../src/queue/jobs.js'
import { readIncomingBody } from '../src/routes/body.js'
import { webhookFastPath } from '../src/routes/webhooks.js'
import { serveApi } from '../src/server.js'
import { createSourceCache } from '../src/sources/cache.js'
import { bearer, createSourceViaApi, createTestApp, pingEvent, signedHeaders } from './helpers/app.js'

const t = await createTestApp({ env: { WEBHOOK_MAX_BYTES: String(64 * 1024) } })
const source = await createSourceViaApi(t)
const url = `/v1/webhooks/${source.id}`

// Every row runs twice: in-process through app.request(), and over a real socket.
// The server as the service runs it: the webhook route through its fast path.
const server = await serveApi(t.deps, t.app, { port: 0, hostname: '127.0.0.1' })
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const transports = {
  'app.request': (path: string, init: RequestInit) => t.app.request(path, init),
  socket: (path: string, init: RequestInit) => fetch(`${base}${path}`, init),
}

async function errorOf(res: Response) {
  return (
    (await res.json()) as { error: { code: string; message: string; request_id: string; details?: unknown } }
  ).error
}

/** How many webhook answers with this status the HTTP metric has counted so far. */
async function webhookAnswers(status: string): Promise<number> {
  const metrics = await (await t.app.request('/metrics')).text()
  const line = metrics
    .split('\n')
    .find(
      (l) =>
        l.startsWith('tiersync_http_request_duration_seconds_count{') &&
        l.includes('route="/v1/webhooks/:sourceId"') &&
        l.includes(`status="${status}"`),
    )
  return Number(line?.split(' ').pop() ?? 0)
}

/** Sends raw bytes; resolves with what came back once the server closes or `waitMs` passes. */
function raw(
  port: number,
  chunks: string[],
  opts: { waitMs?: number; keepWriting?: string; abortAfterMs?: number } = {},
): Promise<{ response: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let response = ''
    let closedByServer = false
    let writer: NodeJS.Timeout | undefined
    const finish = () => {
      clearInterval(writer)
      socket.destroy()
      resolve({ response, closedByServer })
    }
    socket.on('data', (d) => {
      response += d
    })
    socket.on('end', () => {
      closedByServer = true
      finish()
    })
    socket.on('error', () => finish())
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c)
      if (opts.keepWriting) writer = setInterval(() => socket.write(opts.keepWriting as string), 5)
      if (opts.abortAfterMs !== undefined) setTimeout(finish, opts.abortAfterMs)
    })
    setTimeout(finish, opts.waitMs ?? 3000)
  })
}

const subscription = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'subscription.updated',
    occurred_at: '2026-11-24T10:15:00Z',
    sequence: 7,
    data: { id: 'sub-100', account_id: 'cust-x', quantity: 10, paid: true },
    ...over,
  })

describe.each(Object.keys(transports) as (keyof typeof transports)[])(
  'POST /v1/webhooks/{sourceId} via %s',
  (via) => {
    const send = transports[via]
    const post = (
      body: string,
      headers: Record<string, string> = signedHeaders(source.secret, body),
      path = url,
    ) => send(path, { method: 'POST', headers, body })

    it('answers the same on either path: request id echoed or made, error body, access metric by route', async () => {
      const before = { ok: await webhookAnswers('202'), refused: await webhookAnswers('401') }
      const body = pingEvent()
      const mine = `req-${via.replace('.', '-')}-1`
      const ok = await post(body, { ...signedHeaders(source.secret, body), 'x-request-id': mine })
      expect(ok.status).toBe(202)
      expect(ok.headers.get('x-request-id')).toBe(mine)
      expect(ok.headers.get('content-type')).toMatch(/^application\/json/)
      // Not a plain token: replaced by a fresh id, which the error body carries too.
      const bad = await post(body, {
        ...signedHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', body),
        'x-request-id': 'two words',
      })
      expect(bad.status).toBe(401)
      const made = bad.headers.get('x-request-id')
      expect(made).toMatch(/^[0-9a-f-]{36}$/)
      expect(await errorOf(bad)).toEqual({
        code: 'signature_invalid',
        message: 'no signature matches an active secret',
        request_id: made,
      })
      expect({ ok: await webhookAnswers('202'), refused: await webhookAnswers('401') }).toEqual({
        ok: before.ok + 1,
        refused: before.refused + 1,
      })
    })

    it('a query string does not change the route; other methods and paths are left to the app', async () => {
      const body = pingEvent()
      const res = await post(body, signedHeaders(source.secret, body), `${url}?via=${via}`)
      expect(res.status).toBe(202)
      const put = await send(url, { method: 'PUT', headers: signedHeaders(source.secret, body), body })
      expect(put.status).toBe(405)
      expect((await errorOf(put)).code).toBe('method_not_allowed')
      const slash = await post(body, signedHeaders(source.secret, body), `${url}/`)
      expect(slash.status).toBe(404)
    })

    it('202: stores the raw body and envelope, and queues a job carrying only the inbox id', async () => {
      // Rows of earlier tests still in the enqueuer's window would share this row's job.
      await t.drain()
      const body = subscription()
      const headers = signedHeaders(source.secret, body)
      const res = await post(body, headers)
      expect(res.status).toBe(202)
      const ack = (await res.json()) as { id: string; status: string }
      expect(ack.status).toBe('accepted')
      const [row] = await t.db.sql`
      select source_id, webhook_id, event_type, occurred_at, object_id, body, status from inbox where id = ${ack.id}`
      expect(row).toEqual({
        source_id: source.id,
        webhook_id: headers['webhook-id'],
        event_type: 'subscription.updated',
        occurred_at: new Date('2026-11-24T10:15:00Z'),
        object_id: 'sub-100',
        body,
        status: 'received',
      })
      // Written already marked queued, before the job is even sent: no second write of the row.
      const [marked] = await t.db.sql`select enqueued_at from inbox where id = ${ack.id}`
      expect(marked?.enqueued_at).toBeInstanceOf(Date)
      await t.drain()
      const job = await t.deps.queues.events.getJob(eventJobId([{ id: ack.id, generation: 0 }]))
      expect(job?.data).toEqual({ inboxIds: [ack.id] })
      const [queued] = await t.db.sql`select enqueued_at from inbox where id = ${ack.id}`
      expect(queued?.enqueued_at).toEqual(marked?.enqueued_at)
    })

    it('200 duplicate: the same webhook-id again, even with another body, returns the first id', async () => {
      const body = pingEvent()
      const headers = signedHeaders(source.secret, body, { id: `msg_dup_1_${via}` })
      const first = (await (await post(body, headers)).json()) as { id: string }
      const again = await post(body, headers)
      expect(again.status).toBe(200)
      expect(await again.json()).toEqual({ id: first.id, status: 'duplicate' })
      const other = pingEvent({ sequence: 2 })
      const third = await post(other, signedHeaders(source.secret, other, { id: `msg_dup_1_${via}` }))
      expect(await third.json()).toEqual({ id: first.id, status: 'duplicate' })
      const [{ n } = { n: 0 }] = await t.db.sql<
        { n: number }[]
      >`select count(*)::int as n from inbox where webhook_id = ${`msg_dup_1_${via}`}`
      expect(n).toBe(1)
    })

    it('duplicates sent concurrently are stored once', async () => {
      const body = pingEvent()
      const headers = signedHeaders(source.secret, body, { id: `msg_concurrent_${via}` })
      const results = await Promise.all(Array.from({ length: 20 }, () => post(body, headers)))
      const statuses = results.map((r) => r.status).sort()
      expect(statuses.filter((s) => s === 202)).toHaveLength(1)
      expect(statuses.filter((s) => s === 200)).toHaveLength(19)
      const ids = new Set(
        await Promise.all(results.map(async (r) => ((await r.json()) as { id: string }).id)),
      )
      expect(ids.size).toBe(1)
    })

    it('404 source_not_found for an unknown source or a non-uuid id', async () => {
      for (const path of ['/v1/webhooks/00000000-0000-4000-8000-000000000000', '/v1/webhooks/nope']) {
        const res = await post(pingEvent(), undefined, path)
        expect(res.status).toBe(404)
        expect((await errorOf(res)).code).toBe('source_not_found')
      }
    })

    it('400 signature_headers_missing for each missing header', async () => {
      const body = pingEvent()
      for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const headers = signedHeaders(source.secret, body)
        delete headers[h]
        const res = await post(body, headers)
        expect(res.status).toBe(400)
        expect((await errorOf(res)).code).toBe('signature_headers_missing')
      }
      const long = await post(body, signedHeaders(source.secret, body, { id: `msg_${'x'.repeat(300)}` }))
      expect(long.status).toBe(400)
    })

    it('401 signature_invalid for a wrong secret, a tampered body, or a rotated-out signature scheme', async () => {
      const body = pingEvent()
      const wrong = await post(body, signedHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', body))
      expect(wrong.status).toBe(401)
      expect((await errorOf(wrong)).code).toBe('signature_invalid')
      const tampered = await post(`${body} `, signedHeaders(source.secret, body))
      expect((await errorOf(tampered)).code).toBe('signature_invalid')
      const headers = signedHeaders(source.secret, body)
      headers['webhook-signature'] = (headers['webhook-signature'] as string).replace('v1,', 'v2,')
      expect((await errorOf(await post(body, headers))).code).toBe('signature_invalid')
    })

    it('401 timestamp_out_of_tolerance for stale and future timestamps', async () => {
      const body = pingEvent()
      for (const offset of [-301_000, 301_000]) {
        const res = await post(
          body,
          signedHeaders(source.secret, body, { at: new Date(Date.now() + offset) }),
        )
        expect(res.status).toBe(401)
        expect((await errorOf(res)).code).toBe('timestamp_out_of_tolerance')
      }
    })

    it('413 payload_too_large over the limit, by Content-Length and while reading a chunked body', async () => {
      const big = JSON.stringify({
        type: 'test.ping',
        occurred_at: new Date().toISOString(),
        data: { pad: 'x'.repeat(70_000) },
      })
      const res = await post(big, signedHeaders(source.secret, big))
      expect(res.status).toBe(413)
      expect((await errorOf(res)).code).toBe('payload_too_large')
      let sent = 0
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 16_384
          controller.enqueue(new Uint8Array(16_384).fill(32))
        },
      })
      const streamed = await send(url, {
        method: 'POST',
        headers: signedHeaders(source.secret, 'x'),
        body: endless,
        duplex: 'half',
      } as RequestInit)
      expect(streamed.status).toBe(413)
      // In process, the server reads no more than the limit; over a socket the kernel's buffers
      // take more before the client sees the answer (service.test.ts bounds that case).
      if (via === 'app.request') expect(sent).toBeLessThan(64 * 1024 + 3 * 16_384)
    })

    it('415 unsupported_media_type and 400 invalid_json', async () => {
      const body = pingEvent()
      const text = await post(body, { ...signedHeaders(source.secret, body), 'content-type': 'text/plain' })
      expect(text.status).toBe(415)
      expect((await errorOf(text)).code).toBe('unsupported_media_type')
      for (const bad of ['{"type":', 'not json', '\u00ff\u00fe']) {
        const res = await post(bad, signedHeaders(source.secret, bad))
        expect(res.status).toBe(400)
        expect((await errorOf(res)).code).toBe('invalid_json')
      }
    })

    it('422 invalid_event with the failing paths', async () => {
      const body = JSON.stringify({ type: 'subscription.exploded', sequence: -1, data: [] })
      const res = await post(body)
      expect(res.status).toBe(422)
      const err = await errorOf(res)
      expect(err.code).toBe('invalid_event')
      expect((err.details as { path: string }[]).map((d) => d.path).sort()).toEqual([
        'data',
        'occurred_at',
        'sequence',
        'type',
      ])
    })

    it('429 rate_limited with Retry-After once the source exceeds its limit', async () => {
      // Mid-window on a frozen clock, so the fixed one-minute window cannot roll over mid-test.
      const clock = frozenClock(Math.floor(Date.now() / 60_000) * 60_000 + 15_000)
      const app = createApp({ ...t.deps, clock })
      const limited = await createSourceViaApi(t, { rate_limit_per_minute: 3 })
      const codes: number[] = []
      let last: Response | undefined
      for (let i = 0; i < 5; i++) {
        const body = pingEvent()
        last = await app.request(`/v1/webhooks/${limited.id}`, {
          method: 'POST',
          headers: signedHeaders(limited.secret, body, { at: clock.now() }),
          body,
        })
        codes.push(last.status)
      }
      expect(codes).toEqual([202, 202, 202, 429, 429])
      expect(last?.headers.get('retry-after')).toBe('45')
      expect((await errorOf(last as Response)).code).toBe('rate_limited')
    })

    it('503 storage_unavailable with Retry-After when Postgres is unreachable', async () => {
      const dead = createSql('postgres://127.0.0.1:1/none', { max: 1, connectTimeoutSeconds: 1 })
      // Postgres gone for everything this app touches: a fresh source cache, the inbox on it too.
      const app = createApp({
        ...t.deps,
        sql: dead,
        inbox: createInboxWriter(dead),
        sourceCache: createSourceCache(5000),
      })
      const body = pingEvent()
      const res = await app.request(url, {
        method: 'POST',
        headers: signedHeaders(source.secret, body),
        body,
      })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      const err = await errorOf(res)
      expect(err.code).toBe('storage_unavailable')
      expect(err.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/)
      const admin = await app.request('/v1/sources', { headers: bearer(t.adminKey) })
      expect(admin.status).toBe(503)
      await dead.end()
    })
  },
)

describe('inbox writer', () => {
  const row = (webhookId: string) => ({
    sourceId: source.id,
    webhookId,
    eventType: 'test.ping',
    occurredAt: null,
    objectId: null,
    body: pingEvent(),
    requestId: null,
  })

  it('marks rows queued only when a listener will queue them; with none, they are left to the relay', async () => {
    const alone = createInboxWriter(t.db.sql)
    const listened = createInboxWriter(t.db.sql)
    const committed: string[] = []
    listened.onCommitted((refs) => committed.push(...refs.map((r) => r.id)))
    const a = await alone.write(row('msg_writer_alone'))
    const b = await listened.write(row('msg_writer_listened'))
    const marks = await t.db.sql<{ id: string; enqueued_at: Date | null }[]>`
      select id, enqueued_at from inbox where id = any(${[a.id, b.id]}::bigint[]) order by id`
    expect(marks.map((m) => [m.id, m.enqueued_at !== null])).toEqual([
      [a.id, false],
      [b.id, true],
    ])
    expect(committed).toEqual([b.id])
  })

  it('queues new rows as soon as their INSERT commits, even if the lookup of duplicates after it fails', async () => {
    // Fault injection on the real connection: the duplicate lookup (the only unprepared query)
    // loses its connection after the INSERT has committed.
    const lost = Object.assign(new Error('connection lost'), { code: 'CONNECTION_CLOSED' })
    const flaky = new Proxy(t.db.sql, {
      get: (target, p) => (p === 'unsafe' ? () => Promise.reject(lost) : Reflect.get(target, p)),
    })
    const writer = createInboxWriter(flaky)
    const queued: string[] = []
    writer.onCommitted((refs) => queued.push(...refs.map((r) => r.id)))
    await writer.write(row('msg_writer_flaky_old'))
    queued.length = 0
    const results = await Promise.allSettled([
      writer.write(row('msg_writer_flaky_old')),
      writer.write(row('msg_writer_flaky_new')),
    ])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    const [fresh] = await t.db.sql<{ id: string; enqueued_at: Date | null }[]>`
      select id, enqueued_at from inbox where webhook_id = 'msg_writer_flaky_new'`
    expect(fresh?.enqueued_at).toBeInstanceOf(Date)
    expect(queued).toEqual([fresh?.id])
  })

  it('answers duplicates of stored rows and of earlier rows in the same group commit with the first id', async () => {
    const writer = createInboxWriter(t.db.sql)
    const first = await writer.write(row('msg_writer_dup'))
    // One group commit: a row already stored, a new one, and that new one again.
    const [again, fresh, repeat] = await Promise.all([
      writer.write(row('msg_writer_dup')),
      writer.write(row('msg_writer_fresh')),
      writer.write(row('msg_writer_fresh')),
    ])
    expect(again).toEqual({ id: first.id, duplicate: true })
    expect(fresh?.duplicate).toBe(false)
    expect(repeat).toEqual({ id: fresh?.id, duplicate: true })
  })

  it('stores every body of a group commit exactly, whatever JSON text it holds', async () => {
    const writer = createInboxWriter(t.db.sql)
    // What an array literal would have to escape, and what a split could trip on.
    const bodies = [
      '\ufeff{"a":"quote \\" and backslash \\\\ and {braces}, commas"}',
      '{"unicode":"ünïcödé 👍 \\u0001 escaped, not raw",\t"tab":"\\t"}\r\n',
      '[]',
      ' "just a string" ',
      '{"null":null,"n":1e400}',
    ]
    for (const b of bodies) JSON.parse(b.replace(/^\ufeff/, ''))
    const written = await Promise.all(
      bodies.map((body, i) => writer.write({ ...row(`msg_writer_body_${i}`), body })),
    )
    const stored = await t.db.sql<{ id: string; body: string }[]>`
      select id, body from inbox where id = any(${written.map((w) => w.id)}::bigint[])`
    expect(written.map((w) => stored.find((s) => s.id === w.id)?.body)).toEqual(bodies)
  })

  it('refuses a body that is not JSON text (a raw U+0001), alone: its group commit neighbour is stored', async () => {
    const writer = createInboxWriter(t.db.sql)
    const [bad, good] = await Promise.allSettled([
      writer.write({ ...row('msg_writer_control'), body: '{"a":"\u0001"}' }),
      writer.write(row('msg_writer_beside_control')),
    ])
    expect(bad).toMatchObject({ status: 'rejected', reason: { message: 'an inbox body is not JSON text' } })
    expect(good).toMatchObject({ status: 'fulfilled', value: { duplicate: false } })
    const rows = await t.db.sql<{ webhook_id: string }[]>`
      select webhook_id from inbox where webhook_id in ('msg_writer_control', 'msg_writer_beside_control')`
    expect(rows).toEqual([{ webhook_id: 'msg_writer_beside_control' }])
  })
})

describe('the fast path, over raw sockets', () => {
  const port = (server.address() as AddressInfo).port
  /** A signed ping delivered over HTTP to the server at `at`. */
  const deliverPing = (at: string) => {
    const body = pingEvent()
    return fetch(`${at}${url}`, { method: 'POST', headers: signedHeaders(source.secret, body), body })
  }

  it('refuses a repeated Content-Type as the Fetch API reads it (all values), not by its first', async () => {
    const body = pingEvent()
    const h = signedHeaders(source.secret, body)
    const head =
      `POST ${url} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-type: text/plain\r\n` +
      `webhook-id: ${h['webhook-id']}\r\nwebhook-timestamp: ${h['webhook-timestamp']}\r\n` +
      `webhook-signature: ${h['webhook-signature']}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`
    const { response } = await raw(port, [head, body])
    expect(response).toMatch(/^HTTP\/1\.1 415 /)
    expect(response).toContain('"code":"unsupported_media_type"')
  })

  it('closes the connection when it refuses before reading an endless body', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000'
    const head = `POST /v1/webhooks/${unknown} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`
    const started = Date.now()
    const { response, closedByServer } = await raw(port, [head], {
      keepWriting: `400\r\n${'x'.repeat(1024)}\r\n`,
      waitMs: 5000,
    })
    expect(response).toMatch(/^HTTP\/1\.1 404 /)
    expect(closedByServer).toBe(true)
    expect(Date.now() - started).toBeLessThan(4000)
  })

  it('a client gone mid-body settles the request (answered 400 to nobody), and the server carries on', async () => {
    const before = await webhookAnswers('400')
    const head = `POST ${url} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n`
    await raw(port, [head, '{"type":"test.ping",'], { abortAfterMs: 100 })
    await expect.poll(() => webhookAnswers('400'), { timeout: 3000 }).toBe(before + 1)
    expect((await deliverPing(base)).status).toBe(202)
  })

  it('the body reader settles for a request whose client was gone before reading began', async () => {
    const gone = new IncomingMessage(new Socket())
    gone.destroy()
    await new Promise((resolve) => setImmediate(resolve)) // its 'close' has been emitted already
    await expect(
      readIncomingBody(gone, 1024, () => {
        throw new Error('not too large')
      }),
    ).rejects.toBeInstanceOf(RequestAborted)
  })

  it('takes deliveries itself and hands everything else to the app', async () => {
    const handed: string[] = []
    const fallback = (req: IncomingMessage, res: ServerResponse) => {
      handed.push(`${req.method} ${req.url} ${req.headers.host}`)
      res.writeHead(418).end()
    }
    const own = webhookFastPath(t.deps)({}, fallback)
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve))
    const at = `http://127.0.0.1:${(own.address() as AddressInfo).port}`
    try {
      expect((await deliverPing(at)).status).toBe(202)
      // Any port is a plain host; odd hosts, paths and other methods are the app's.
      const send = async (path: string, host: string, method = 'POST') => {
        const { response } = await raw((own.address() as AddressInfo).port, [
          `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
        ])
        return Number(response.slice(9, 12))
      }
      expect(await send(url, '127.0.0.1:60123')).toBe(400) // ours: verification headers missing
      expect(await send(url, 'LOCALHOST')).toBe(418)
      expect(await send(`${url}/..`, '127.0.0.1')).toBe(418)
      expect(await send(`/v1/webhooks/a\\b`, '127.0.0.1')).toBe(418)
      expect(await send(url, '127.0.0.1', 'PUT')).toBe(418)
      expect(await send('/healthz', '127.0.0.1', 'GET')).toBe(418)
      expect(handed).toHaveLength(5)
    } finally {
      await new Promise<void>((resolve) => own.close(() => resolve()))
    }
  })
})
