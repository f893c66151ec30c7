import { createRoute, z } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { ingest } from '../ingest/ingest.js'
import { errors, json, router } from './openapi.js'

const Ack = z.object({ id: z.string(), status: z.enum(['accepted', 'duplicate']) }).openapi('WebhookAck')

const route = createRoute({
  method: 'post',
  path: '/{sourceId}',
  tags: ['Webhooks'],
  summary: 'Receive a signed webhook from a reseller BSS (Standard Webhooks v1)',
  description:
    "The body is the source format's event (canonical: CONTRACT section 3), signed over its raw bytes. " +
    '202 means the event is stored durably; 200 means this webhook-id was already stored.',
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

export function webhookRoutes(deps: Deps) {
  const app = router()
  const inboxDeps = {
    ...deps,
    rateLimitPrefix: deps.queues.prefix,
    defaultRatePerMinute: deps.config.RATE_LIMIT_PER_MINUTE,
  }
  // Enforced while reading: a body past the limit (or an endless chunked one) is cut off, not buffered.
  app.use(
    '/:sourceId',
    bodyLimit({
      maxSize: deps.config.WEBHOOK_MAX_BYTES,
      onError: () => {
        throw new AppError('payload_too_large', {
          message: `body exceeds ${deps.config.WEBHOOK_MAX_BYTES} bytes`,
        })
      },
    }),
  )

  app.openapi(route, async (c) => {
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AppError('unsupported_media_type', { message: 'Content-Type must be application/json' })
    }
    const result = await ingest(inboxDeps, {
      sourceId: c.req.param('sourceId'),
      headers: {
        id: c.req.header('webhook-id'),
        timestamp: c.req.header('webhook-timestamp'),
        signature: c.req.header('webhook-signature'),
      },
      readBody: () => c.req.arrayBuffer(),
      requestId: c.get('requestId'),
    })
    switch (result.outcome) {
      case 'accepted':
        return c.json({ id: result.id, status: 'accepted' as const }, 202)
      case 'duplicate':
        return c.json({ id: result.id, status: 'duplicate' as const }, 200)
      case 'source_not_found':
        throw new AppError('source_not_found', { message: 'unknown or disabled source' })
      case 'signature_headers_missing':
        throw new AppError('signature_headers_missing', {
          message: 'webhook-id, webhook-timestamp and webhook-signature are required',
        })
      case 'signature_invalid':
        throw new AppError('signature_invalid', { message: 'no signature matches an active secret' })
      case 'timestamp_out_of_tolerance':
        throw new AppError('timestamp_out_of_tolerance', {
          message: 'webhook-timestamp is more than 5 minutes off',
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
  })
  return app
}
