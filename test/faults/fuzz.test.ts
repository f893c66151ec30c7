import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseJson } from '../../src/mappers/envelope.js'
import { mapperFor, type SourceMapper } from '../../src/mappers/index.js'
import { AccountState, type MapContext, SubscriptionState } from '../../src/mappers/operations.js'
import type { SourceFormat } from '../../src/sources/sources.js'
import { createSourceViaApi, createTestApp, signedHeaders } from '../helpers/app.js'
import { maybe, mutatedFixture, payload } from './fuzz-arbitraries.js'
import { printFigures } from './mirror.js'

// Property-based fuzzing of every mapper (pure functions: they must never throw and always
// answer in their types) and of the ingest envelope through the real route (never a 5xx, and
// exactly the answer the mapper's verdict implies). A fixed seed by default, so CI runs the same
// inputs every time; FAULTS_SEED=<n> replays a reported run, FAULTS_SEED=random explores.
const RUNS = Number(process.env.FAULTS_N ?? 400)
const seed = process.env.FAULTS_SEED === 'random' ? undefined : Number(process.env.FAULTS_SEED ?? 20261124)
const params = { numRuns: RUNS, ...(seed === undefined ? {} : { seed }) }
const EXPRESSION =
  '{"type": kind, "occurred_at": at, "sequence": seq, "data": {"id": id, "type": "customer", "parent_id": null, "name": name}}'
const fetchedAt = new Date('2030-01-02T03:04:05Z')
const figures: Record<string, unknown> = {}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const validDate = (d: unknown) => d instanceof Date && !Number.isNaN(d.getTime())

/** Why a mapper's answer is not of its declared type; undefined when it is. */
function envelopeProblem(r: unknown): string | undefined {
  if (!isRecord(r)) return 'not an object'
  if (r.ok === true) {
    const e = r.envelope
    if (!isRecord(e) || typeof e.type !== 'string') return 'envelope without a type'
    if (e.occurredAt !== null && !validDate(e.occurredAt)) return `occurredAt ${String(e.occurredAt)}`
    if (e.objectId !== null && typeof e.objectId !== 'string') return 'objectId not a string'
    return undefined
  }
  if (r.ok !== false || !Array.isArray(r.issues) || r.issues.length === 0) return 'a refusal without issues'
  return r.issues.every((i) => isRecord(i) && Array.isArray(i.path) && typeof i.message === 'string')
    ? undefined
    : 'an issue without path or message'
}

function mapProblem(r: unknown): string | undefined {
  if (!isRecord(r)) return 'not an object'
  if (r.ok === false) {
    if (typeof r.reason !== 'string' || !r.reason) return 'a failure without a reason'
    if (!Array.isArray(r.details) || r.details.length === 0) return 'a failure without details'
    return r.details.every((d) => isRecord(d) && typeof d.path === 'string' && typeof d.message === 'string')
      ? undefined
      : 'a detail without path or message'
  }
  if (r.ok !== true || !Array.isArray(r.operations)) return 'neither ok nor failed'
  for (const op of r.operations as Record<string, unknown>[]) {
    const v = op.version as { sequence: unknown; occurredAt: unknown }
    if (!validDate(v?.occurredAt)) return `an operation with occurredAt ${String(v?.occurredAt)}`
    if (v.sequence !== null && !Number.isSafeInteger(v.sequence)) return `sequence ${String(v.sequence)}`
    if (typeof op.eventType !== 'string') return 'an operation without its event type'
    const state =
      op.kind === 'subscription'
        ? SubscriptionState.safeParse(op.state)
        : op.action === 'upsert'
          ? AccountState.safeParse(op.state)
          : { success: typeof op.id === 'string' && op.id.length > 0 }
    if (op.kind !== 'subscription' && op.kind !== 'account') return `kind ${String(op.kind)}`
    if (!state.success) return `an operation whose state fails its own schema: ${JSON.stringify(op)}`
  }
  return undefined
}

/** A fetch is a path joined to the source's BSS base URL: it must never leave it. */
function fetchesProblem(r: unknown): string | undefined {
  if (!Array.isArray(r)) return 'not an array'
  for (const f of r) {
    if (!isRecord(f) || typeof f.key !== 'string' || typeof f.path !== 'string') return 'not {key, path}'
    const path = f.path
    if (!path.startsWith('/') || path.startsWith('//') || /[?#\s\\]/.test(path)) return `path ${path}`
    const segments = path.split('/').map((s) => {
      try {
        return decodeURIComponent(s)
      } catch {
        return s
      }
    })
    if (segments.some((s) => s === '.' || s === '..')) return `a dot segment in ${path}`
  }
  return undefined
}

/** What a thin notification's fetch step would have stored: the resources, mostly of the right kind. */
const fetchedArb = fc.record({
  request: mutatedFixture('cloudblue-connect'),
  subscription: mutatedFixture('partner-center', /subscription\.json$/),
  customer: mutatedFixture('partner-center', /^customer\.json$/),
})
const mappingPayload = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: maybe(
        fc.constantFrom('account.created', 'account.updated', 'test.ping', 'subscription.created', 'x'),
      ),
      at: maybe(
        fc
          .date({ min: new Date('2000-01-01'), max: new Date('2040-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString()),
      ),
      seq: maybe(fc.nat()),
      id: maybe(fc.stringMatching(/^[a-z0-9-]{1,10}$/)),
      name: maybe(fc.string({ minLength: 1 })),
    }),
  },
  { weight: 1, arbitrary: payload('canonical') },
)

const MAPPERS: [string, SourceMapper, fc.Arbitrary<unknown>][] = [
  ...(['canonical', 'interworks', 'cloudblue-connect', 'partner-center'] as const).map(
    (format): [string, SourceMapper, fc.Arbitrary<unknown>] => [
      format,
      mapperFor({ format, mapping: null }),
      payload(format),
    ],
  ),
  ['mapping', mapperFor({ format: 'mapping', mapping: { expression: EXPRESSION } }), mappingPayload],
]

describe('every mapper, fuzzed', () => {
  it.each(MAPPERS)(
    '%s: envelope, fetches and map never throw and answer in their types',
    async (name, mapper, arb) => {
      const seen = { runs: 0, envelope_ok: 0, map_ok: 0, operations: 0, fetches: 0 }
      await fc.assert(
        fc.asyncProperty(arb, fetchedArb, async (p, fetched) => {
          seen.runs++
          const envelope = await mapper.envelope(p)
          expect(envelopeProblem(envelope)).toBeUndefined()
          const fetches = mapper.fetches?.(p) ?? []
          expect(fetchesProblem(fetches)).toBeUndefined()
          const ctx: MapContext = { fetched, fetchedAt }
          const mapped = await mapper.map(p, ctx)
          expect(mapProblem(mapped)).toBeUndefined()
          if (envelope.ok) seen.envelope_ok++
          if (mapped.ok) seen.map_ok++
          seen.operations += mapped.ok ? mapped.operations.length : 0
          seen.fetches += fetches.length
          // What the worker can apply, ingest must have acknowledged: never a 422 for a good event.
          if (mapped.ok) expect(envelope.ok).toBe(true)
        }),
        params,
      )
      figures[name] = seen
      // The near-real payloads must reach the deep paths, not only the first refusal.
      expect(seen.map_ok).toBeGreaterThan(RUNS / 20)
      expect(seen.operations).toBeGreaterThan(0)
    },
    120_000,
  )
})

const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
const ingest: Record<string, Record<number, number>> = {}
afterAll(async () => {
  await t.drain()
  printFigures('fuzz', {
    runs_per_mapper: RUNS,
    seed: seed ?? 'random',
    mappers: figures,
    ingest_answers: ingest,
  })
})

describe('the ingest envelope through the real route, fuzzed', () => {
  const formats: [SourceFormat, Record<string, unknown>][] = [
    ['canonical', {}],
    ['interworks', {}],
    [
      'cloudblue-connect',
      { api: { base_url: 'http://127.0.0.1:9/connect', credentials: { type: 'bearer', token: 'x' } } },
    ],
    [
      'partner-center',
      { api: { base_url: 'http://127.0.0.1:9/pc', credentials: { type: 'bearer', token: 'x' } } },
    ],
    ['mapping', { mapping: { expression: EXPRESSION } }],
  ]
  /** Bodies: JSON of near-real payloads mostly, then any JSON, text that is not JSON, cut JSON. */
  const body = (format: SourceFormat) => {
    const json = fc
      .oneof(
        { weight: 5, arbitrary: format === 'mapping' ? mappingPayload : payload(format) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
      )
      .map((v) => {
        try {
          return JSON.stringify(v) ?? 'null'
        } catch {
          return '{"bigint": true'
        }
      })
    return fc.oneof(
      { weight: 8, arbitrary: json },
      { weight: 1, arbitrary: fc.tuple(json, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))) },
      { weight: 1, arbitrary: json.map((s) => `\ufeff${s}`) },
      { weight: 1, arbitrary: fc.string() },
    )
  }

  it.each(formats)(
    '%s: answers 202, 200, 400 or 422 (never a 5xx), exactly as the mapper decides',
    async (format, extra) => {
      const source = await createSourceViaApi(t, { format, ...extra })
      const mapper = mapperFor({ format, mapping: format === 'mapping' ? { expression: EXPRESSION } : null })
      const counts: Record<number, number> = {}
      ingest[format] = counts
      await fc.assert(
        fc.asyncProperty(body(format), async (text) => {
          const res = await t.app.request(`/v1/webhooks/${source.id}`, {
            method: 'POST',
            headers: signedHeaders(source.secret, text),
            body: text,
          })
          const answer = (await res.json()) as { error?: { code: string; details?: unknown[] } }
          counts[res.status] = (counts[res.status] ?? 0) + 1
          expect([200, 202, 400, 422], JSON.stringify(answer)).toContain(res.status)
          let parsed: unknown
          try {
            parsed = parseJson(text)
          } catch {
            expect([res.status, answer.error?.code]).toEqual([400, 'invalid_json'])
            return
          }
          const verdict = await mapper.envelope(parsed)
          // Ingest also refuses an envelope whose facts (type, object id) hold NUL: they become
          // inbox columns, and Postgres text cannot hold it.
          const storable =
            verdict.ok &&
            ![verdict.envelope.type, verdict.envelope.objectId].some((v) => v?.includes('\u0000'))
          if (storable) expect([res.status, answer]).toMatchObject([202, { status: 'accepted' }])
          else {
            expect([res.status, answer.error?.code]).toEqual([422, 'invalid_event'])
            expect(answer.error?.details?.length).toBeGreaterThan(0)
          }
        }),
        { ...params, numRuns: Math.ceil(RUNS * 0.6) },
      )
    },
    180_000,
  )
})
