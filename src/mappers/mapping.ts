import jsonata from 'jsonata'
import { z } from 'zod'
import { mapCanonical } from './canonical.js'
import type { EnvelopeResult } from './envelope.js'
import { ExpressionFailed, evaluateInSandbox, SandboxUnavailable } from './mapping-sandbox.js'
import type { MapResult, Operation } from './operations.js'

/**
 * The `mapping` format, for a home-grown BSS with its own JSON: a JSONata expression stored per
 * source turns each payload into one canonical event (CONTRACT section 3) or an array of them.
 * JSONata (jsonata.org) is declarative, sandboxed (no I/O, no code) and widely known; the
 * expression is compiled when saved, so a syntax error is a 400 at the API, never a failed event.
 */
export const MappingConfig = z
  .object({
    expression: z
      .string()
      .min(1)
      .max(20_000)
      .superRefine((e, ctx) => {
        const error = compileError(e)
        if (error) ctx.addIssue({ code: 'custom', message: error })
      })
      .describe(
        'JSONata expression over the payload; it must yield a canonical event {type, occurred_at, sequence?, data} or an array of them',
      ),
  })
  .describe('Declarative mapping of a home-grown BSS payload into canonical events')
export type MappingConfig = z.infer<typeof MappingConfig>

function compileError(expression: string): string | undefined {
  try {
    // Parsing is bounded by the expression's length (20,000 characters); evaluating is not, so
    // that happens only in the sandbox thread.
    jsonata(expression)
    return undefined
  } catch (err) {
    const e = err as { message?: string; position?: number }
    return `not a valid JSONata expression: ${e.message ?? 'syntax error'}${e.position === undefined ? '' : ` (at ${e.position})`}`
  }
}

export type Preview =
  | { ok: true; events: unknown[]; operations: Operation[] }
  | { ok: false; reason: string; details: { path: string; message: string }[]; events?: unknown[] }

/**
 * What a payload becomes under an expression: the events it yields and their operations. Throws
 * `SandboxUnavailable` when no verdict could be reached (a runaway expression, a restarted
 * sandbox): the caller retries or accepts, it never refuses the payload for it.
 */
export async function preview(config: MappingConfig, payload: unknown): Promise<Preview> {
  let result: unknown
  try {
    result = await evaluateInSandbox(config.expression, payload)
  } catch (err) {
    if (!(err instanceof ExpressionFailed)) throw err
    return {
      ok: false,
      reason: 'the mapping expression failed',
      details: [{ path: '(expression)', message: err.message }],
    }
  }
  if (result === undefined) {
    return {
      ok: false,
      reason: 'the mapping yielded nothing',
      details: [{ path: '(root)', message: 'the expression matched nothing in this payload' }],
    }
  }
  const events = Array.isArray(result) ? result : [result]
  const operations: Operation[] = []
  for (const [i, event] of events.entries()) {
    const mapped = mapCanonical(event)
    if (!mapped.ok) {
      const at = events.length > 1 ? `[${i}].` : ''
      return {
        ok: false,
        reason: `the mapping yielded an invalid canonical event: ${mapped.reason}`,
        details: mapped.details.map((d) => ({ ...d, path: `${at}${d.path}` })),
        events,
      }
    }
    operations.push(...mapped.operations)
  }
  return { ok: true, events, operations }
}

/** The `mapping` mapper of one source's expression. */
export function mappingMapper(config: MappingConfig) {
  return {
    async envelope(payload: unknown): Promise<EnvelopeResult> {
      let p: Preview
      try {
        p = await preview(config, payload)
      } catch (err) {
        if (!(err instanceof SandboxUnavailable)) throw err
        // No verdict (a runaway expression): accept and let the worker decide, with retries. A
        // delivery is never refused for a reason that is not about the payload.
        return { ok: true, envelope: { type: 'unknown', occurredAt: null, objectId: null } }
      }
      if (!p.ok) {
        return {
          ok: false,
          issues: p.details.map((d) => ({
            code: 'custom' as const,
            path: d.path === '(root)' ? [] : d.path.split('.'),
            message: d.message,
            input: undefined,
          })),
        }
      }
      const first = p.operations[0]
      const event = p.events[0] as { type?: string } | undefined
      return {
        ok: true,
        envelope: {
          type: event?.type ?? 'test.ping',
          occurredAt: first?.version.occurredAt ?? null,
          objectId: first
            ? first.kind === 'account' && first.action === 'close'
              ? first.id
              : first.state.id
            : null,
        },
      }
    },
    async map(payload: unknown): Promise<MapResult> {
      const p = await preview(config, payload)
      return p.ok
        ? { ok: true, operations: p.operations }
        : { ok: false, reason: p.reason, details: p.details }
    },
  }
}
