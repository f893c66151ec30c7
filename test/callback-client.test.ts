import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  type BssApi,
  type BssClient,
  type BssClientOptions,
  BssCredentials,
  BssRejected,
  BssUnavailable,
  createBssClient,
} from '../src/callback/client.js'

type Seen = {
  method: string
  url: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  at: number
}
type Reply = (req: Seen, res: ServerResponse) => void

/** The reseller BSS: per path a queue of programmed replies (the last one repeats), and a request log. */
const replies = new Map<string, Reply[]>()
const seen: Seen[] = []
const server = createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => {
    body += chunk
  })
  req.on('end', () => {
    const url = req.url ?? '/'
    const path = new URL(url, 'http://bss.invalid').pathname
    const request = { method: req.method ?? '', url, path, headers: req.headers, body, at: performance.now() }
    seen.push(request)
    const queue = replies.get(path)
    const reply = queue && queue.length > 1 ? queue.shift() : queue?.[0]
    if (reply) reply(request, res)
    else res.writeHead(404).end('not programmed')
  })
})
let origin = ''

const on = (path: string, ...queue: Reply[]) => replies.set(path, queue)
const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Reply =>
  (_, res) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
const text =
  (body: string, status = 200): Reply =>
  (_, res) =>
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body)
const hang: Reply = () => {}
const stallBody: Reply = (_, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.write('{"partial":')
}
const requestsTo = (path: string) => seen.filter((r) => r.path === path)

const clients: BssClient[] = []
function client(opts: Partial<BssClientOptions> = {}): BssClient {
  const c = createBssClient({ timeoutMs: 1_000, retries: 2, baseDelayMs: 10, ...opts })
  clients.push(c)
  return c
}
function api(credentials: BssCredentials = { type: 'none' }, sourceId = 'src-a', prefix = ''): BssApi {
  return { sourceId, baseUrl: `${origin}${prefix}`, credentials }
}
/** The rejection of `p`, failing the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  )
}
const b64 = (s: string) => Buffer.from(s).toString('base64')

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
beforeEach(() => {
  replies.clear()
  seen.length = 0
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('credentials', () => {
  const cases: [string, BssCredentials, string, string | undefined][] = [
    ['none', { type: 'none' }, 'authorization', undefined],
    ['bearer', { type: 'bearer', token: 't0ken' }, 'authorization', 'Bearer t0ken'],
    [
      'basic',
      { type: 'basic', username: 'ann', password: 'p:ss' },
      'authorization',
      `Basic ${b64('ann:p:ss')}`,
    ],
    ['header', { type: 'header', name: 'X-Api-Key', value: 'k3y' }, 'x-api-key', 'k3y'],
  ]
  it.each(cases)(
    'sends %s credentials and returns the parsed JSON',
    async (_, credentials, header, value) => {
      on('/customers/42', json({ id: '42', name: 'Contoso' }))
      const body = await client().getJson(api(BssCredentials.parse(credentials)), '/customers/42')
      expect(body).toEqual({ id: '42', name: 'Contoso' })
      expect(seen).toHaveLength(1)
      expect(seen[0]?.method).toBe('GET')
      expect(seen[0]?.headers.accept).toBe('application/json')
      expect(seen[0]?.headers[header]).toBe(value)
    },
  )

  it('fetches an OAuth2 client-credentials token once and caches it per source', async () => {
    let issued = 0
    on('/oauth/token', (_, res) =>
      json({ access_token: `tok-${++issued}`, token_type: 'Bearer', expires_in: 3600 })(_, res),
    )
    on('/customers/42', json({ id: '42' }))
    const credentials: BssCredentials = {
      type: 'oauth2-client-credentials',
      token_url: `${origin}/oauth/token`,
      client_id: 'client 1',
      client_secret: 's3cret',
      scope: 'bss.read',
    }
    const c = client()

    await c.getJson(api(credentials), '/customers/42')
    await c.getJson(api(credentials), '/customers/42')
    await c.getJson(api(credentials, 'src-b'), '/customers/42')

    const tokenRequests = requestsTo('/oauth/token')
    expect(tokenRequests).toHaveLength(2)
    expect(tokenRequests[0]?.method).toBe('POST')
    expect(tokenRequests[0]?.headers.authorization).toBe(`Basic ${b64('client+1:s3cret')}`)
    expect(Object.fromEntries(new URLSearchParams(tokenRequests[0]?.body))).toEqual({
      grant_type: 'client_credentials',
      scope: 'bss.read',
    })
    expect(requestsTo('/customers/42').map((r) => r.headers.authorization)).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-2',
    ])
  })

  it('drops a cached token the BSS answers 401 to and retries with a fresh one', async () => {
    let issued = 0
    let revoked = false
    on('/oauth/token', (_, res) => json({ access_token: `tok-${++issued}`, expires_in: 3600 })(_, res))
    on('/me', (req, res) => {
      const stale = revoked && req.headers.authorization === 'Bearer tok-1'
      ;(stale ? json({ error: 'invalid_token' }, 401) : json({ ok: true }))(req, res)
    })
    const credentials: BssCredentials = {
      type: 'oauth2-client-credentials',
      token_url: `${origin}/oauth/token`,
      client_id: 'c',
      client_secret: 's',
    }
    const c = client()
    await c.getJson(api(credentials), '/me')
    revoked = true

    expect(await c.getJson(api(credentials), '/me')).toEqual({ ok: true })
    expect(requestsTo('/oauth/token')).toHaveLength(2)
    expect(requestsTo('/me').map((r) => r.headers.authorization)).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-2',
    ])
  })

  it('never puts credentials in error messages', async () => {
    on('/down', json({ error: 'boom' }, 503))
    on('/oauth/token', json({ error: 'invalid_client' }, 401))
    const c = client({ retries: 0 })

    const down = await failure(c.getJson(api({ type: 'bearer', token: 'sekrit-token' }), '/down'))
    expect(down).toBeInstanceOf(BssUnavailable)
    expect(down).toMatchObject({ status: 503 })
    expect(String(down)).not.toContain('sekrit-token')

    const oauth: BssCredentials = {
      type: 'oauth2-client-credentials',
      token_url: `${origin}/oauth/token`,
      client_id: 'c',
      client_secret: 'sekrit-secret',
    }
    const refused = await failure(c.getJson(api(oauth), '/down'))
    expect(refused).toBeInstanceOf(BssRejected)
    expect(refused).toMatchObject({ status: 401 })
    expect(String(refused)).not.toContain('sekrit-secret')
    expect(requestsTo('/down')).toHaveLength(1)
  })
})

describe('URLs', () => {
  it.each(['/api/v2', '/api/v2/'])('keeps the base URL path prefix %s', async (prefix) => {
    on('/api/v2/customers/42', json({ id: '42' }))
    const body = await client().getJson(api(undefined, 'src-a', prefix), '/customers/42', {
      expand: 'subscriptions',
      q: 'a b&c',
    })
    expect(body).toEqual({ id: '42' })
    expect(seen.map((r) => r.url)).toEqual(['/api/v2/customers/42?expand=subscriptions&q=a+b%26c'])
  })

  it.each([
    'https://evil.example/customers',
    '//evil.example/customers',
    'customers/42',
    '/customers/../admin',
    '/customers/%2e%2E/admin',
    '/customers/.%2e',
    '/customers\\..\\admin',
    '\\\\evil.example\\x',
    '/customers/42?admin=1',
    '/customers/.\t./admin',
    '',
  ])('refuses the path %j without sending a request', async (path) => {
    const err = await failure(client().getJson(api(), path))
    expect(err).toBeInstanceOf(BssRejected)
    expect(err).toMatchObject({ status: 0 })
    expect(seen).toHaveLength(0)
  })

  it.each(['file:///etc', 'http://user:pw@127.0.0.1:1', 'not a url'])(
    'refuses the base URL %j',
    async (baseUrl) => {
      const err = await failure(client().getJson({ ...api(), baseUrl }, '/x'))
      expect(err).toBeInstanceOf(BssRejected)
      expect(err).toMatchObject({ status: 0 })
      expect(String(err)).not.toContain('pw')
    },
  )
})

describe('retries', () => {
  it('retries a 500 and returns the later 200', async () => {
    on('/flaky', json({ error: 'boom' }, 500), json({ ok: true }))
    expect(await client().getJson(api(), '/flaky')).toEqual({ ok: true })
    expect(seen).toHaveLength(2)
  })

  it('waits out a short Retry-After before retrying a 429', async () => {
    on('/busy', json({ error: 'slow down' }, 429, { 'retry-after': '1' }), json({ ok: true }))
    expect(await client().getJson(api(), '/busy')).toEqual({ ok: true })
    const [first, second] = seen
    expect(seen).toHaveLength(2)
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900)
  })

  it.each([
    ['delay-seconds', () => '3600'],
    ['an HTTP date', () => new Date(Date.now() + 3_600_000).toUTCString()],
  ])('hands a long Retry-After (%s) back to the caller at once', async (_, retryAfter) => {
    on('/busy', (req, res) =>
      json({ error: 'come back later' }, 429, { 'retry-after': retryAfter() })(req, res),
    )
    const started = performance.now()
    const err = await failure(client().getJson(api(), '/busy'))
    expect(performance.now() - started).toBeLessThan(500)
    expect(err).toBeInstanceOf(BssUnavailable)
    expect(err).toMatchObject({ status: 429 })
    const { retryAfterMs } = err as BssUnavailable
    expect(retryAfterMs).toBeGreaterThan(3_590_000)
    expect(retryAfterMs).toBeLessThanOrEqual(3_600_000)
    expect(seen).toHaveLength(1)
  })

  it('times out a BSS that never answers, per attempt', async () => {
    on('/slow', hang)
    const started = performance.now()
    const err = await failure(client({ timeoutMs: 200, retries: 1 }).getJson(api(), '/slow'))
    const elapsed = performance.now() - started
    expect(err).toBeInstanceOf(BssUnavailable)
    expect(err).toMatchObject({ status: null, message: expect.stringMatching(/timed out after 200 ms/) })
    expect(seen).toHaveLength(2)
    expect(elapsed).toBeGreaterThanOrEqual(380)
    expect(elapsed).toBeLessThan(1_500)
  })

  it('times out a body that stalls after the headers', async () => {
    on('/stall', stallBody)
    const started = performance.now()
    const err = await failure(client({ timeoutMs: 200, retries: 0 }).getJson(api(), '/stall'))
    expect(err).toBeInstanceOf(BssUnavailable)
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('reports a refused connection as BssUnavailable after the retries', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const err = await failure(
      client({ retries: 1 }).getJson({ ...api(), baseUrl: `http://127.0.0.1:${port}` }, '/x'),
    )
    expect(err).toBeInstanceOf(BssUnavailable)
    expect(err).toMatchObject({ status: null, message: expect.stringContaining('ECONNREFUSED') })
  })

  it('does not retry a 404', async () => {
    on('/customers/404', json({ error: 'not found' }, 404))
    const err = await failure(client({ retries: 3 }).getJson(api(), '/customers/404'))
    expect(err).toBeInstanceOf(BssRejected)
    expect(err).toMatchObject({ status: 404 })
    expect(seen).toHaveLength(1)
  })

  it('rejects a 200 whose body is not JSON, without retrying', async () => {
    on('/html', text('<html>maintenance</html>'))
    const err = await failure(client().getJson(api(), '/html'))
    expect(err).toBeInstanceOf(BssRejected)
    expect(err).toMatchObject({ status: 200 })
    expect(seen).toHaveLength(1)
  })

  it('rejects a body over 10 MiB', async () => {
    on('/huge', text(JSON.stringify('x'.repeat(10 * 1024 * 1024))))
    const err = await failure(client().getJson(api(), '/huge'))
    expect(err).toBeInstanceOf(BssRejected)
    expect(err).toMatchObject({ status: 200, message: expect.stringContaining('over') })
  })
})

describe('circuit breaker', () => {
  it('opens per source after consecutive failed calls, then closes after a successful trial', async () => {
    on('/down', json({ error: 'boom' }, 500))
    on('/up', json({ ok: true }))
    const c = client({ retries: 1, breakerFailures: 2, breakerHalfOpenMs: 300 })

    for (let i = 0; i < 2; i++) {
      expect(await failure(c.getJson(api(), '/down'))).toMatchObject({ status: 500 })
    }
    // Two calls of two attempts each: the breaker counts calls, not attempts.
    expect(seen).toHaveLength(4)

    const started = performance.now()
    const fast = await failure(c.getJson(api(), '/up'))
    expect(performance.now() - started).toBeLessThan(50)
    expect(fast).toBeInstanceOf(BssUnavailable)
    expect(fast).toMatchObject({ status: null })
    const { retryAfterMs } = fast as BssUnavailable
    expect(retryAfterMs).toBeGreaterThan(0)
    expect(retryAfterMs).toBeLessThanOrEqual(300)
    expect(seen).toHaveLength(4)

    expect(await c.getJson(api(undefined, 'src-b'), '/up')).toEqual({ ok: true })
    expect(seen).toHaveLength(5)

    await new Promise((resolve) => setTimeout(resolve, 320))
    on('/down', json({ recovered: true }))
    expect(await c.getJson(api(), '/down')).toEqual({ recovered: true })
    // Closed again: the next failure reaches the BSS instead of failing fast.
    on('/down', json({ error: 'boom' }, 500))
    expect(await failure(c.getJson(api(), '/down'))).toMatchObject({ status: 500 })
    expect(seen).toHaveLength(8)
  })

  it('does not count 4xx answers as failures', async () => {
    on('/gone', json({ error: 'gone' }, 410))
    const c = client({ breakerFailures: 2 })
    for (let i = 0; i < 3; i++) {
      expect(await failure(c.getJson(api(), '/gone'))).toMatchObject({ name: 'BssRejected', status: 410 })
    }
    expect(seen).toHaveLength(3)
  })
})

it('fails without a request once closed', async () => {
  const c = client()
  await c.close()
  expect(await failure(c.getJson(api(), '/x'))).toBeInstanceOf(BssUnavailable)
  expect(seen).toHaveLength(0)
})
