import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  ExponentialBackoff,
  fullJitterGenerator,
  handleWhen,
  type IBackoff,
  type IPolicy,
  type IRetryBackoffContext,
  retry,
  wrap,
} from 'cockatiel'
import { Agent, type Dispatcher, request } from 'undici'
import { z } from 'zod'

/** How tiersync authenticates to a reseller's BSS when it calls back. */
export const BssCredentials = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none').describe('The BSS callback API needs no authentication') }),
  z.object({
    type: z.literal('bearer').describe('A static token sent as `Authorization: Bearer <token>`'),
    token: z.string().min(1).describe('The bearer token'),
  }),
  z.object({
    type: z.literal('basic').describe('HTTP Basic authentication (RFC 7617)'),
    username: z
      .string()
      .regex(/^[^:]+$/)
      .describe('Basic auth user name; must not contain a colon'),
    password: z.string().describe('Basic auth password'),
  }),
  z.object({
    type: z.literal('header').describe('A static secret sent in a header of the reseller’s choosing'),
    name: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
      .describe('Header name, e.g. `X-Api-Key`'),
    value: z
      .string()
      .min(1)
      .regex(/^[^\r\n]*$/)
      .describe('Header value'),
  }),
  z.object({
    type: z
      .literal('oauth2-client-credentials')
      .describe('OAuth 2.0 client credentials grant (RFC 6749 §4.4); the token is cached per source'),
    token_url: z
      .url({ protocol: /^https?$/ })
      .describe('Token endpoint of the reseller’s authorization server'),
    client_id: z.string().min(1).describe('OAuth client id, sent with the secret as HTTP Basic auth'),
    client_secret: z.string().min(1).describe('OAuth client secret'),
    scope: z
      .string()
      .min(1)
      .optional()
      .describe('Space-separated scopes to request, if the server needs any'),
  }),
])
export type BssCredentials = z.infer<typeof BssCredentials>

export type BssApi = { sourceId: string; baseUrl: string; credentials: BssCredentials }

export type BssClientOptions = {
  /** Per attempt, covering headers and body. */
  timeoutMs: number
  /** Extra attempts on retryable failures. */
  retries: number
  /** Base of the exponential backoff (full jitter) when the BSS sends no usable `Retry-After`. */
  baseDelayMs: number
  /** A longer `Retry-After` is not waited in-process: the caller gets `BssUnavailable` and retries later. */
  maxRetryAfterMs: number
  /** Consecutive failed calls (after retries) that open a source's breaker. */
  breakerFailures: number
  /** How long an open breaker fails fast before letting one trial call through. */
  breakerHalfOpenMs: number
  /** For tests; by default the client owns a keep-alive undici Agent. */
  dispatcher?: Dispatcher
}

const defaults: BssClientOptions = {
  timeoutMs: 10_000,
  retries: 3,
  baseDelayMs: 200,
  maxRetryAfterMs: 30_000,
  breakerFailures: 5,
  breakerHalfOpenMs: 30_000,
}

/** Bodies are buffered to parse JSON; a BSS must not be able to exhaust the worker's memory. */
const MAX_BODY_BYTES = 10 * 1024 * 1024
/** Tokens are dropped this long before the server says they expire. */
const TOKEN_EXPIRY_MARGIN_MS = 60_000

/** Retryable: network error, timeout, 5xx, 429, or the source's breaker is open. */
export class BssUnavailable extends Error {
  override readonly name = 'BssUnavailable'
  readonly retryAfterMs: number | null
  readonly status: number | null

  constructor(
    message: string,
    opts: { status?: number | null; retryAfterMs?: number | null; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause })
    this.status = opts.status ?? null
    this.retryAfterMs = opts.retryAfterMs ?? null
  }
}

/**
 * Permanent: any other 4xx (or 1xx/3xx: redirects are never followed), a 2xx body that is not JSON,
 * or a request refused before it was sent (`status` 0: unsafe path or base URL).
 */
export class BssRejected extends Error {
  override readonly name = 'BssRejected'
  readonly status: number

  constructor(message: string, status: number, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause })
    this.status = status
  }
}

export type BssClient = {
  getJson(api: BssApi, path: string, query?: Record<string, string>): Promise<unknown>
  close(): Promise<void>
}

type Guard = { policy: IPolicy; breaker: CircuitBreakerPolicy; openedAt: number }
type AccessToken = { value: string; expiresAt: number }
type TokenEntry = { key: string; token: Promise<AccessToken> }
type Request = { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }

const TokenResponse = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
})

export function createBssClient(options: Partial<BssClientOptions> = {}): BssClient {
  const o: BssClientOptions = { ...defaults, ...options }
  const owned = o.dispatcher === undefined
  const dispatcher =
    o.dispatcher ?? new Agent({ keepAliveTimeout: 10_000, connect: { timeout: o.timeoutMs } })
  const closing = new AbortController()
  const guards = new Map<string, Guard>()
  const tokens = new Map<string, TokenEntry>()
  let closed: Promise<void> | undefined

  const jitter = new ExponentialBackoff({
    generator: fullJitterGenerator,
    initialDelay: o.baseDelayMs,
    maxDelay: o.maxRetryAfterMs,
  })
  // The BSS's Retry-After wins over our own backoff; the exponential sequence advances either way.
  const backoff = new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>(
    (context, previous) => {
      const next = previous ? previous.next(context) : jitter.next()
      const err = 'error' in context.result ? context.result.error : null
      const hint = err instanceof BssUnavailable ? err.retryAfterMs : null
      return { delay: hint ?? next.duration, state: next }
    },
  )
  const retryPolicy = retry(
    // A long Retry-After goes back to the caller (a queued job) rather than holding a worker here.
    handleWhen((err) => err instanceof BssUnavailable && (err.retryAfterMs ?? 0) <= o.maxRetryAfterMs),
    { maxAttempts: o.retries, backoff },
  )

  function guardFor(sourceId: string): Guard {
    const existing = guards.get(sourceId)
    if (existing) return existing
    // Only retryable failures count: a 4xx proves the BSS is up and answering.
    const breaker = circuitBreaker(
      handleWhen((err) => err instanceof BssUnavailable),
      { halfOpenAfter: o.breakerHalfOpenMs, breaker: new ConsecutiveBreaker(o.breakerFailures) },
    )
    // Breakers sit outside the retries: one failed call, retries included, is one breaker failure.
    const guard: Guard = { policy: wrap(breaker, retryPolicy), breaker, openedAt: 0 }
    breaker.onBreak(() => {
      guard.openedAt = Date.now()
    })
    guards.set(sourceId, guard)
    return guard
  }

  async function send(what: string, url: string, req: Request, signal: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(o.timeoutMs)
    try {
      const res = await request(url, {
        ...req,
        dispatcher,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        signal: AbortSignal.any([signal, timeout]),
      })
      const status = res.statusCode
      if (status >= 200 && status < 300) return await readJson(what, status, res.body)
      await res.body.dump().catch(() => undefined)
      if (status === 429 || status >= 500) {
        const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now())
        throw new BssUnavailable(`${what} answered ${status}`, { status, retryAfterMs })
      }
      throw new BssRejected(`${what} answered ${status}`, status)
    } catch (err) {
      if (err instanceof BssRejected || err instanceof BssUnavailable) throw err
      if (signal.aborted) throw new BssUnavailable(`${what}: client closed`, { cause: err })
      const code = errorCode(err)
      if (code === 'UND_ERR_INVALID_ARG') throw new BssRejected(`${what}: invalid request`, 0, { cause: err })
      if (timeout.aborted || code?.endsWith('_TIMEOUT')) {
        throw new BssUnavailable(`${what} timed out after ${o.timeoutMs} ms`, { cause: err })
      }
      throw new BssUnavailable(`${what} failed (${code ?? 'network error'})`, { cause: err })
    }
  }

  async function fetchToken(
    sourceId: string,
    c: Extract<BssCredentials, { type: 'oauth2-client-credentials' }>,
    signal: AbortSignal,
  ): Promise<AccessToken> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' })
    if (c.scope) form.set('scope', c.scope)
    const client = `${formEncode(c.client_id)}:${formEncode(c.client_secret)}`
    const headers = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(client).toString('base64')}`,
    }
    const what = `BSS ${sourceId} token endpoint`
    const json = await send(what, c.token_url, { method: 'POST', headers, body: form.toString() }, signal)
    const parsed = TokenResponse.safeParse(json)
    if (!parsed.success) throw new BssRejected(`${what} answered without an access_token`, 200)
    const { access_token, expires_in } = parsed.data
    // Without expires_in the token is used for this call only.
    const ttl = expires_in === undefined ? 0 : expires_in * 1000 - TOKEN_EXPIRY_MARGIN_MS
    return { value: access_token, expiresAt: Date.now() + ttl }
  }

  /** `reused` is true when the token came from the cache rather than from a fetch made for this call. */
  async function authHeaders(
    api: BssApi,
    signal: AbortSignal,
  ): Promise<{ headers: Record<string, string>; reused: boolean }> {
    const c = api.credentials
    switch (c.type) {
      case 'none':
        return { headers: {}, reused: false }
      case 'bearer':
        return { headers: { authorization: `Bearer ${c.token}` }, reused: false }
      case 'basic': {
        const basic = Buffer.from(`${c.username}:${c.password}`).toString('base64')
        return { headers: { authorization: `Basic ${basic}` }, reused: false }
      }
      case 'header':
        return { headers: { [c.name.toLowerCase()]: c.value }, reused: false }
      case 'oauth2-client-credentials': {
        // Rotated credentials must not keep using a token issued for the old ones.
        const key = JSON.stringify([c.token_url, c.client_id, c.client_secret, c.scope ?? null])
        const cached = tokens.get(api.sourceId)
        if (cached?.key === key) {
          const token = await cached.token.catch(() => null)
          if (token && token.expiresAt > Date.now()) {
            return { headers: { authorization: `Bearer ${token.value}` }, reused: true }
          }
        }
        // Concurrent calls for one source share a single token request.
        const entry: TokenEntry = { key, token: fetchToken(api.sourceId, c, signal) }
        tokens.set(api.sourceId, entry)
        entry.token.catch(() => {
          if (tokens.get(api.sourceId) === entry) tokens.delete(api.sourceId)
        })
        const token = await entry.token
        return { headers: { authorization: `Bearer ${token.value}` }, reused: false }
      }
    }
  }

  async function attempt(api: BssApi, path: string, url: string, signal: AbortSignal): Promise<unknown> {
    const auth = await authHeaders(api, signal)
    const headers = { accept: 'application/json', 'user-agent': 'tiersync', ...auth.headers }
    try {
      return await send(`BSS ${api.sourceId} GET ${path}`, url, { method: 'GET', headers }, signal)
    } catch (err) {
      // A cached token revoked before its expiry: fetch a fresh one on the next attempt.
      if (auth.reused && err instanceof BssRejected && err.status === 401) {
        tokens.delete(api.sourceId)
        throw new BssUnavailable(`${err.message}; the cached access token was dropped`, {
          status: 401,
          retryAfterMs: 0,
        })
      }
      throw err
    }
  }

  return {
    async getJson(api, path, query) {
      const url = resolveUrl(api.baseUrl, path, query)
      if (closing.signal.aborted) throw new BssUnavailable(`BSS ${api.sourceId}: client closed`)
      const guard = guardFor(api.sourceId)
      try {
        return await guard.policy.execute(({ signal }) => attempt(api, path, url, signal), closing.signal)
      } catch (err) {
        if (err instanceof BrokenCircuitError) {
          const open = guard.breaker.state === CircuitState.Open
          const remaining = open ? Math.max(0, guard.openedAt + o.breakerHalfOpenMs - Date.now()) : null
          throw new BssUnavailable(`BSS ${api.sourceId} circuit open after repeated failures`, {
            retryAfterMs: remaining,
            cause: err,
          })
        }
        if (closing.signal.aborted && !(err instanceof BssRejected || err instanceof BssUnavailable)) {
          throw new BssUnavailable(`BSS ${api.sourceId}: client closed`, { cause: err })
        }
        throw err
      }
    },

    close() {
      closed ??= (async () => {
        closing.abort()
        tokens.clear()
        if (owned) await dispatcher.close()
      })()
      return closed
    },
  }
}

/**
 * Always base URL + path: a payload can choose the path but never the host (SSRF). Refuses
 * anything but a plain absolute path, including dot segments in any spelling.
 */
function resolveUrl(baseUrl: string, path: string, query: Record<string, string> = {}): string {
  const refuse = (why: string) => new BssRejected(`refused BSS path ${JSON.stringify(path)}: ${why}`, 0)
  if (!path.startsWith('/') || path.startsWith('//')) throw refuse('not an absolute path')
  if (/[\\?#\s]/.test(path)) throw refuse('backslash, query, fragment or whitespace')
  if (path.split('/').some((s) => /^(\.|%2e){1,2}$/i.test(s))) throw refuse('dot segment')

  const base = parseUrl(baseUrl)
  if (!base || (base.protocol !== 'https:' && base.protocol !== 'http:')) {
    throw new BssRejected('BSS base URL is not an http(s) URL', 0)
  }
  if (base.username || base.password || base.search || base.hash) {
    throw new BssRejected('BSS base URL must not carry credentials, a query or a fragment', 0)
  }
  const prefix = base.pathname.replace(/\/+$/, '')
  const url = new URL(`${base.origin}${prefix}${path}`)
  if (url.origin !== base.origin || !url.pathname.startsWith(`${prefix}/`)) {
    throw refuse('escapes the base URL')
  }
  for (const [k, v] of Object.entries(query)) url.searchParams.append(k, v)
  return url.href
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim()
  if (!v) return null
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

async function readJson(
  what: string,
  status: number,
  body: Dispatcher.ResponseData['body'],
): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      body.destroy()
      throw new BssRejected(`${what} answered a body over ${MAX_BODY_BYTES} bytes`, status)
    }
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new BssRejected(`${what} answered ${status} with a body that is not JSON`, status)
  }
}

function errorCode(err: unknown): string | undefined {
  const code = err instanceof Error && 'code' in err ? err.code : undefined
  return typeof code === 'string' ? code : undefined
}

/** RFC 6749 §2.3.1: client id and secret are form-encoded before Basic encoding. */
function formEncode(s: string): string {
  return new URLSearchParams({ s }).toString().slice(2)
}

/** `URL.parse` arrives in Node 22. */
function parseUrl(s: string): URL | null {
  try {
    return new URL(s)
  } catch {
    return null
  }
}
