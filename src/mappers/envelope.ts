import type { z } from 'zod'

/** The few facts ingest records beside the raw body, whatever the source's format. */
export type Envelope = { type: string; occurredAt: Date | null; objectId: string | null }

export type EnvelopeResult = { ok: true; envelope: Envelope } | { ok: false; issues: z.core.$ZodIssue[] }

/** The failing paths of a payload, for `error.details` of a 422 `invalid_event`. */
export function issueDetails(issues: readonly z.core.$ZodIssue[]): { path: string; message: string }[] {
  return issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }))
}

/** JSON.parse that tolerates a leading byte order mark (the stored body keeps it, as verified). */
export function parseJson(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
}
