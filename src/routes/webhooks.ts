import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type ServerOptions,
  type ServerResponse,
} from 'node:http'
import { createRoute, z } from '@hono/zod-openapi'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { ingest } from '../ingest/ingest.js'
import { isRejection, recordRejection } from '../sources/health.js'
import { readIncomingBody, readLimitedBody } from './body.js'
import { errorBody, errorHeaders, mapError } from './error-handler.js'
import { errors, json, router } from './openapi.js'
import { recordRequest, requestIdFrom } from './requests.js'

const Ack = z.object({ id: z.string(), status: z.enum(['accepted', 'duplicate']) }).openapi('WebhookAck')

const route = createRoute({
  method: 'post',
  path: '/{sourceId}',
  tags: ['Webhooks'],
  summary: 'Receive a signed webhook from a reseller BSS (by default Standard Webhooks v1)',
  description:
    "The body is the source format's event (canonical: CONTRACT section 3), verified over its raw bytes by the " +
    "source's scheme (standard-webhooks, jwt-hs256, hmac or api-key). 202 means the event is stored durably; " +
    '200 means this delivery was already stored (its webhook-id, the id header the scheme names, or else the same body).',
  request: {
    params: z.object({ sourceId: z.string().openapi({ param: { name: 'sourceId', in: 'path' } }) }),
    headers: z.object({
      'webhook-id': z.string().optional(),
      'webhook-timestamp': z.string().optional().openapi({ description: 'Unix seconds' }),
      'webhook-signature': z.string().optional().openapi({ description: 'v1,<base64 HMAC-SHA256>' }),
    }),
  },
  responses: {
    202: json(Ack, 'stored durably'),
    200: json(Ack, 'duplicate webhook-id'),
    ...errors(400, 401, 404, 413, 415, 422, 429, 503),
  },
})

type Ack = z.infer<typeof Ack>

/** A delivery as the webhook route sees it, whichever server carries it. */
type Delivery = {
  sourceId: string
  /** A request header by lower-case name. */
  header(name: string): string | undefined
  /** The body, refused past `max` bytes by calling `tooLarge` (which throws). */
  readBody(max: number, tooLarge: () => never): Promise<Uint8Array>
  requestId: string | null
}

/**
 * The webhook route's work, shared by the Hono route and the server's fast path: the answer for
 * a delivery, or the AppError it is refused with.
 */
function webhookReceiver(deps: Deps) {
  const inboxDeps = {
    ...deps,
    rateLimitPrefix: deps.queues.prefix,
    defaultRatePerMinute: deps.config.RATE_LIMIT_PER_MINUTE,
  }
  const max = deps.config.WEBHOOK_MAX_BYTES
  const tooLarge = (): never => {
    deps.metrics.webhooks.inc({ source: 'unknown', outcome: 'payload_too_large' })
    throw new AppError('payload_too_large', { message: `body exceeds ${max} bytes` })
  }

  return async (d: Delivery): Promise<{ status: 200 | 202; body: Ack }> => {
    // The cheapest refusal first, as before anything else is looked at.
    if (Number(d.header('content-length') ?? 0) > max) tooLarge()
    if (!/^application\/json\s*(;|$)/i.test(d.header('content-type') ?? '')) {
      deps.metrics.webhooks.inc({ source: 'unknown', outcome: 'unsupported_media_type' })
      throw new AppError('unsupported_media_type', { message: 'Content-Type must be application/json' })
    }
    const result = await ingest(inboxDeps, {
      sourceId: d.sourceId,
      header: d.header,
      // Enforced while reading: a body past the limit (or an endless chunked one) is cut off.
      readBody: () => d.readBody(max, tooLarge),
      requestId: d.requestId,
    })
    // Unknown sources share one label: a scan of random ids must not create a series each.
    deps.metrics.webhooks.inc({
      source: result.outcome === 'source_not_found' ? 'unknown' : d.sourceId,
      outcome: result.outcome,
    })
    if (isRejection(result.outcome)) recordRejection(deps, d.sourceId, result.outcome)
    switch (result.outcome) {
      case 'accepted':
        return { status: 202, body: { id: result.id, status: 'accepted' } }
      case 'duplicate':
        return { status: 200, body: { id: result.id, status: 'duplicate' } }
      case 'source_not_found':
        throw new AppError('source_not_found', { message: 'unknown or disabled source' })
      case 'signature_headers_missing':
        throw new AppError('signature_headers_missing', {
          message:
            "the headers of the source's verification scheme are missing (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)",
        })
      case 'signature_invalid':
        throw new AppError('signature_invalid', { message: 'no signature matches an active secret' })
      case 'timestamp_out_of_tolerance':
        throw new AppError('timestamp_out_of_tolerance', {
          message: 'the request timestamp is outside the tolerance (default 5 minutes either way)',
        })
      case 'rate_limited':
        throw new AppError('rate_limited', {
          message: 'rate limit exceeded',
          retryAfter: result.retryAfterSeconds,
        })
      case 'invalid_json':
        throw new AppError('invalid_json', { message: 'body is not valid UTF-8 JSON' })
      case 'invalid_event':
        throw new AppError('invalid_event', {
          message: 'event fails the format schema',
          details: result.details,
        })
    }
  }
}

/** The route as Hono serves it: documented in the OpenAPI, and what app.request() reaches. */
export function webhookRoutes(deps: Deps) {
  const app = router()
  const receive = webhookReceiver(deps)
  app.openapi(route, async (c) => {
    const answer = await receive({
      sourceId: c.req.param('sourceId'),
      header: (name) => c.req.header(name),
      readBody: (max, tooLarge) => readLimitedBody(c, max, tooLarge),
      requestId: c.get('requestId'),
    })
    return c.json(answer.body, answer.status)
  })
  return app
}

/** The route's pattern, as Hono reports it: the fast path's metric series is the same one. */
const ROUTE = '/v1/webhooks/:sourceId'
/**
 * What the fast path takes: a plain id (unreserved characters and escapes, not starting with a
 * dot), an optional query, and a plain Host (the one @hono/node-server takes without parsing a
 * URL). Anything else (dot segments, backslashes, fragments, odd hosts) goes to Hono, which
 * decides as it always has.
 */
const PATH = /^\/v1\/webhooks\/([A-Za-z0-9_~%-][A-Za-z0-9._~%-]*)(?:\?[^#\\]*)?$/
const HOST = /^[a-z0-9._-]+(?::(\d{1,5}))?$/

/** A host name or IPv4 address with an optional valid port: one Hono accepts as it is. */
function plainHost(host: string | undefined): boolean {
  const m = host === undefined ? null : HOST.exec(host)
  return m !== null && (m[1] === undefined || Number(m[1]) <= 65535)
}

/**
 * The server's fast path for deliveries, the one hot route: `POST /v1/webhooks/{sourceId}` is
 * answered from Node's request and response objects, by the same receiver, error body, request
 * id and access log as the Hono route; everything else goes to Hono. Measured with `npm run
 * bench`: Hono's per-request work (a Web Request and Headers, the middleware chain, the route's
 * validators, a Web Response) cost about as much CPU as the whole delivery, and this path
 * nearly halves the API's CPU per webhook. Pass it as @hono/node-server's `createServer`.
 */
export function webhookFastPath(deps: Deps) {
  const receive = webhookReceiver(deps)

  async function answer(req: IncomingMessage, res: ServerResponse, rawSourceId: string) {
    const started = performance.now()
    const path = pathOf(req)
    const requestId = requestIdFrom(req.headersDistinct['x-request-id']?.join(', '))
    let status: number
    let body: unknown
    let headers: Record<string, string> = {}
    try {
      const ok = await receive({
        sourceId: decodeParam(rawSourceId),
        // Every value of a repeated header, joined as the Fetch API (and so Hono) does: Node's
        // req.headers keeps only the first content-type or authorization.
        header: (name) => req.headersDistinct[name]?.join(', '),
        readBody: (max, tooLarge) =>
          readIncomingBody(req, max, () => {
            res.setHeader('connection', 'close')
            return tooLarge()
          }),
        requestId,
      })
      status = ok.status
      body = ok.body
    } catch (err) {
      const appErr = mapError(deps.log, err, { requestId, path })
      status = appErr.status
      body = errorBody(appErr, requestId)
      headers = errorHeaders(appErr)
    }
    const text = JSON.stringify(body)
    // Answered before the body was read (a refusal): close rather than drain what may be endless.
    if (!req.complete) headers.connection = 'close'
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': requestId,
    })
    res.end(text)
    recordRequest(deps, {
      route: ROUTE,
      method: 'POST',
      path,
      status,
      ms: performance.now() - started,
      requestId,
    })
  }

  const create = (options: ServerOptions, hono: RequestListener) =>
    createServer(options, (req, res) => {
      const match = req.method === 'POST' && plainHost(req.headers.host) ? PATH.exec(req.url ?? '') : null
      if (!match) return hono(req, res)
      answer(req, res, match[1] as string).catch((err: unknown) => {
        // Only a failure to write the answer lands here (the client is gone): nothing to tell it.
        deps.log.warn({ err: (err as Error).message }, 'webhook answer not written')
        res.destroy()
      })
    })
  return create as typeof createServer
}

/** Decoded as Hono decodes a path parameter: a malformed escape is kept as sent. */
function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** The path without its query, decoded as Hono's `c.req.path` is (for the access log). */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  return decodeParam(q < 0 ? url : url.slice(0, q))
}
