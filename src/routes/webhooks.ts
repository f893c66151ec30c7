import { createRoute, z } from '@hono/zod-openapi'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { ingest } from '../ingest/ingest.js'
import { isRejection, recordRejection } from '../sources/health.js'
import { readLimitedBody } from './body.js'
import { errors, json, router } from './openapi.js'

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

export function webhookRoutes(deps: Deps) {
  const app = router()
  const inboxDeps = {
    ...deps,
    rateLimitPrefix: deps.queues.prefix,
    defaultRatePerMinute: deps.config.RATE_LIMIT_PER_MINUTE,
  }
  const tooLarge = (): never => {
    deps.metrics.webhooks.inc({ source: 'unknown', outcome: 'payload_too_large' })
    throw new AppError('payload_too_large', {
      message: `body exceeds ${deps.config.WEBHOOK_MAX_BYTES} bytes`,
    })
  }

  app.openapi(route, async (c) => {
    // The cheapest refusal first, as before anything else is looked at.
    if (Number(c.req.header('content-length') ?? 0) > deps.config.WEBHOOK_MAX_BYTES) tooLarge()
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      deps.metrics.webhooks.inc({ source: 'unknown', outcome: 'unsupported_media_type' })
      throw new AppError('unsupported_media_type', { message: 'Content-Type must be application/json' })
    }
    const sourceId = c.req.param('sourceId')
    const result = await ingest(inboxDeps, {
      sourceId,
      header: (name) => c.req.header(name),
      // Enforced while reading: a body past the limit (or an endless chunked one) is cut off.
      readBody: () => readLimitedBody(c, deps.config.WEBHOOK_MAX_BYTES, tooLarge),
      requestId: c.get('requestId'),
    })
    // Unknown sources share one label: a scan of random ids must not create a series each.
    deps.metrics.webhooks.inc({
      source: result.outcome === 'source_not_found' ? 'unknown' : sourceId,
      outcome: result.outcome,
    })
    if (isRejection(result.outcome)) recordRejection(deps, sourceId, result.outcome)
    switch (result.outcome) {
      case 'accepted':
        return c.json({ id: result.id, status: 'accepted' as const }, 202)
      case 'duplicate':
        return c.json({ id: result.id, status: 'duplicate' as const }, 200)
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
  })
  return app
}
