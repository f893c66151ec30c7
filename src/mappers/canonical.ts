import { z } from 'zod'
import type { Envelope, EnvelopeResult } from './envelope.js'
import { issueDetails } from './envelope.js'
import {
  AccountState,
  type MapResult,
  type Operation,
  SubscriptionState,
  type Version,
} from './operations.js'

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

const idWithoutNul: [(d: Record<string, unknown>) => boolean, { message: string; path: string[] }] = [
  (d) => !(typeof d.id === 'string' && d.id.includes('\u0000')),
  { message: 'id must not contain NUL', path: ['id'] },
]

/**
 * What ingest checks before acknowledging (CONTRACT section 3), and the worker again before it
 * maps `data` in full by the state of its kind: here `data` only has to be an object (checked
 * as one, not copied key by key, which cost ingest ~2 µs a request).
 */
export const CanonicalEnvelope = z.object({
  type: CanonicalEventType,
  // Years 1..9999: what Postgres stores; a year-0 timestamp must be a 422, not a failed insert.
  occurred_at: z.iso.datetime({ offset: true }).refine((v) => {
    const year = new Date(v).getUTCFullYear()
    return year >= 1 && year <= 9999
  }, 'year must be between 0001 and 9999'),
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  data: z
    .custom<Record<string, unknown>>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      'Invalid input: expected object',
    )
    .refine(...idWithoutNul),
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

const AccountClose = z.object({ id: AccountState.shape.id })

/** The canonical format maps one event to one operation on the object it carries. */
export function mapCanonical(payload: unknown): MapResult {
  const envelope = CanonicalEnvelope.safeParse(payload)
  if (!envelope.success) return invalid('envelope', envelope.error.issues)
  const { type, occurred_at, sequence, data } = envelope.data
  const version: Version = { sequence: sequence ?? null, occurredAt: new Date(occurred_at) }
  let op: Operation
  if (type === 'test.ping') return { ok: true, operations: [] }
  if (type === 'account.deleted') {
    const parsed = AccountClose.safeParse(data)
    if (!parsed.success) return invalid('account', parsed.error.issues, 'data')
    op = { kind: 'account', action: 'close', version, eventType: type, id: parsed.data.id }
  } else if (type.startsWith('account.')) {
    const parsed = AccountState.safeParse(data)
    if (!parsed.success) return invalid('account', parsed.error.issues, 'data')
    op = { kind: 'account', action: 'upsert', version, eventType: type, state: parsed.data }
  } else {
    const parsed = SubscriptionState.safeParse(data)
    if (!parsed.success) return invalid('subscription', parsed.error.issues, 'data')
    op = { kind: 'subscription', version, eventType: type, state: parsed.data }
  }
  return { ok: true, operations: [op] }
}

function invalid(what: string, issues: z.core.$ZodIssue[], prefix?: string): MapResult {
  const details = issueDetails(issues).map((d) => ({
    ...d,
    path: prefix ? (d.path === '(root)' ? prefix : `${prefix}.${d.path}`) : d.path,
  }))
  return { ok: false, reason: `${what} does not match the canonical format`, details }
}
