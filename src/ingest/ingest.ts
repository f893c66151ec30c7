import { createHash, randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { InboxWriter } from '../inbox/inbox-writer.js'
import { issueDetails, parseJson } from '../mappers/envelope.js'
import { mapperFor } from '../mappers/index.js'
import type { SourceCache } from '../sources/cache.js'
import { activeSecrets, loadIngestSource, type SourceDeps } from '../sources/sources.js'
import { verifyRequest } from '../verify/schemes.js'
import { checkRateLimit } from './rate-limit.js'

export type IngestDeps = SourceDeps & {
  sourceCache: SourceCache
  redis: Redis
  inbox: InboxWriter
  rateLimitPrefix: string
  defaultRatePerMinute: number
}

export type IngestRequest = {
  sourceId: string
  /** A request header by (case-insensitive) name. */
  header(name: string): string | undefined
  readBody: () => Promise<Uint8Array>
  requestId: string | null
}

export type IngestOutcome =
  | { outcome: 'accepted'; id: string }
  | { outcome: 'duplicate'; id: string }
  | { outcome: 'source_not_found' }
  | { outcome: 'signature_headers_missing' }
  | { outcome: 'signature_invalid' }
  | { outcome: 'timestamp_out_of_tolerance' }
  | { outcome: 'rate_limited'; retryAfterSeconds: number }
  | { outcome: 'invalid_json' }
  | { outcome: 'invalid_event'; details: { path: string; message: string }[] }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAX_WEBHOOK_ID = 256
// ignoreBOM: the stored body is exactly the verified bytes, BOM included.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The acknowledgement path. Order matters: cheap refusals first, the signature over the raw bytes
 * before any parsing (and before the rate limit counts), and `accepted` only once the inbox row
 * is committed. Postgres errors
 * propagate (the route answers 503); Redis errors never block an acknowledgement.
 */
export async function ingest(deps: IngestDeps, req: IngestRequest): Promise<IngestOutcome> {
  if (!UUID.test(req.sourceId)) return { outcome: 'source_not_found' }
  const source = await deps.sourceCache.get(req.sourceId, () => loadIngestSource(deps, req.sourceId))
  if (!source) return { outcome: 'source_not_found' }

  const now = deps.clock.now()
  const raw = await req.readBody()
  const verified = await verifyRequest(source.verification, {
    header: req.header,
    raw,
    secrets: activeSecrets(source, now.getTime()),
    nowSeconds: Math.floor(now.getTime() / 1000),
  })
  if (verified.outcome !== 'verified') return verified
  // Bounded so a hostile id cannot exceed the unique index's row size and fail a whole group commit.
  if (verified.webhookId !== null && verified.webhookId.length > MAX_WEBHOOK_ID)
    return { outcome: 'signature_headers_missing' }
  // Counted only once verified: unsigned traffic must not use up a reseller's allowance.
  const limit = source.rate_limit_per_minute ?? deps.defaultRatePerMinute
  const rate = await checkRateLimit(deps.redis, deps.rateLimitPrefix, source.id, limit, now.getTime())
  if (!rate.allowed) return { outcome: 'rate_limited', retryAfterSeconds: rate.retryAfterSeconds }

  let body: string
  let payload: unknown
  try {
    body = utf8.decode(raw)
    payload = parseJson(body)
  } catch {
    return { outcome: 'invalid_json' }
  }
  const mapper = mapperFor(source)
  const checked = await mapper.envelope(payload)
  if (!checked.ok) return { outcome: 'invalid_event', details: issueDetails(checked.issues) }
  // The envelope's facts become inbox columns: text Postgres cannot hold is the payload's fault.
  for (const [field, value] of [
    ['type', checked.envelope.type],
    ['object id', checked.envelope.objectId],
  ] as const) {
    if (value?.includes('\u0000'))
      return {
        outcome: 'invalid_event',
        details: [{ path: '(envelope)', message: `the event's ${field} contains NUL` }],
      }
  }
  const thin = (mapper.fetches?.(payload).length ?? 0) > 0
  if (thin && !source.has_api) {
    return {
      outcome: 'invalid_event',
      details: [
        { path: '(root)', message: 'a thin notification, but this source has no BSS API to fetch it from' },
      ],
    }
  }
  // Without a delivery id, the same bytes twice are the same delivery; except a thin notification,
  // whose body repeats for every change of its object (fetching again is harmless, missing one is not).
  const id =
    verified.webhookId ??
    (thin ? `thin:${randomUUID()}` : `sha256:${createHash('sha256').update(raw).digest('hex')}`)

  const written = await deps.inbox.write({
    sourceId: source.id,
    webhookId: id,
    eventType: checked.envelope.type,
    occurredAt: checked.envelope.occurredAt,
    objectId: checked.envelope.objectId,
    body,
    requestId: req.requestId,
  })
  return written.duplicate
    ? { outcome: 'duplicate', id: written.id }
    : { outcome: 'accepted', id: written.id }
}
