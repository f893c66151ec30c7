import { z } from 'zod'
import type { Envelope, EnvelopeResult } from './envelope.js'

export const CanonicalEventType = z.enum([
  'account.created',
  'account.updated',
  'account.deleted',
  'subscription.created',
  'subscription.updated',
  'subscription.suspended',
  'subscription.resumed',
  'subscription.renewed',
  'subscription.cancelled',
  'test.ping',
])
export type CanonicalEventType = z.infer<typeof CanonicalEventType>

/** What ingest checks before acknowledging (CONTRACT section 3); the worker maps `data` in full. */
export const CanonicalEnvelope = z.object({
  type: CanonicalEventType,
  occurred_at: z.iso.datetime({ offset: true }),
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  data: z.record(z.string(), z.unknown()),
})

export function canonicalEnvelope(payload: unknown): EnvelopeResult {
  const parsed = CanonicalEnvelope.safeParse(payload)
  if (!parsed.success) return { ok: false, issues: parsed.error.issues }
  const { type, occurred_at, data } = parsed.data
  const envelope: Envelope = {
    type,
    occurredAt: new Date(occurred_at),
    objectId: typeof data.id === 'string' || typeof data.id === 'number' ? String(data.id) : null,
  }
  return { ok: true, envelope }
}
