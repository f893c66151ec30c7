import { z } from 'zod'
import { type EnvelopeResult, issueDetails } from './envelope.js'
import type { Mapper } from './index.js'
import {
  AccountState,
  type FetchRequest,
  type MapContext,
  type MapResult,
  type Operation,
  SubscriptionState,
  type Version,
} from './operations.js'

/** What the BSS formats share: field parsers, drafts turned into operations, failures, a never-throwing shell. */

/** A quantity as a number or a numeric string ("12"), a whole number from 0 to 10,000,000. */
export const Quantity = z
  .union([z.number(), z.string()], { error: 'must be a number or a numeric string' })
  .transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN
    if (Number.isInteger(n) && n >= 0 && n <= 10_000_000) return n
    ctx.addIssue({ code: 'custom', message: 'must be a whole number from 0 to 10000000' })
    return z.NEVER
  })

/** A date, or a timestamp read as its UTC calendar date. */
export const CalendarDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })]).transform((v, ctx) => {
  const d = new Date(v.length === 10 ? `${v}T00:00:00Z` : v)
  if (!Number.isNaN(d.getTime())) return d.toISOString().slice(0, 10)
  ctx.addIssue({ code: 'custom', message: 'not a valid date' })
  return z.NEVER
})

/** Issues of a nested parse, reported at their place in the whole payload. */
export function prefixed(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): z.core.$ZodIssue[] {
  return issues.map((i) => ({ ...i, path: [...prefix, ...i.path] }))
}

export function fail(
  reason: string,
  issues: readonly z.core.$ZodIssue[],
  prefix: PropertyKey[] = [],
): MapResult {
  return { ok: false, reason, details: issueDetails(prefixed(issues, prefix)) }
}

/** A canonical object a mapper assembled, with where in the payload it came from. */
export type Draft =
  | { kind: 'account'; source: PropertyKey[]; state: z.input<typeof AccountState> }
  | { kind: 'subscription'; source: PropertyKey[]; state: z.input<typeof SubscriptionState> }

/** Drafts validated as canonical states, in order; the first that is not fails the event. */
export function finish(
  drafts: Draft[],
  version: Version,
  eventType: string,
  reasons: { account: string; subscription: string },
): MapResult {
  const operations: Operation[] = []
  for (const d of drafts) {
    if (d.kind === 'account') {
      const state = AccountState.safeParse(d.state)
      if (!state.success) return fail(reasons.account, state.error.issues, d.source)
      operations.push({ kind: 'account', action: 'upsert', version, eventType, state: state.data })
    } else {
      const state = SubscriptionState.safeParse(d.state)
      if (!state.success) return fail(reasons.subscription, state.error.issues, d.source)
      operations.push({ kind: 'subscription', version, eventType, state: state.data })
    }
  }
  return { ok: true, operations }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * A format's functions behind a shell that never throws: an unexpected failure is an unmappable
 * payload (a typed result naming `label`), not a crashed worker or a 500.
 */
export function neverThrowing<
  P extends {
    envelope(payload: unknown): EnvelopeResult
    fetches?(payload: unknown): FetchRequest[]
    map(payload: unknown, ctx: MapContext): MapResult
  },
>(label: string, parts: P): P & Mapper {
  const { fetches } = parts
  const shell: Mapper = {
    envelope(payload) {
      try {
        return parts.envelope(payload)
      } catch (e) {
        return {
          ok: false,
          issues: [{ code: 'custom', path: [], message: `unreadable payload: ${message(e)}` }],
        }
      }
    },
    ...(fetches && {
      fetches(payload: unknown) {
        try {
          return fetches(payload)
        } catch {
          return []
        }
      },
    }),
    map(payload, ctx) {
      try {
        return parts.map(payload, ctx)
      } catch (e) {
        return {
          ok: false,
          reason: `unreadable ${label} payload`,
          details: [{ path: '(root)', message: message(e) }],
        }
      }
    },
  }
  // The same signatures as the parts (a format that needs no context keeps a one-argument map).
  return shell as P & Mapper
}
