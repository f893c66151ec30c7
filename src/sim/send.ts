import { setTimeout as sleep } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import { Agent, request } from 'undici'

/** Where to send: `url` is the tiersync base URL (e.g. `http://127.0.0.1:3000`). */
export type SimTarget = { url: string; sourceId: string; secret: string }

/** One webhook delivery; sending the same `webhookId` again is what a BSS retry (a duplicate) is. */
export type Delivery = { body: string; webhookId: string; label?: string }

/**
 * The final outcome of one delivery. `status` is 0 for a network error. `code` is the ack status
 * (`accepted`, `duplicate`) on 2xx, the error body's `error.code` (or `http_<status>`) otherwise,
 * and the network error's code when there was no answer.
 */
export type DeliveryResult = {
  webhookId: string
  label?: string
  status: number
  code?: string
  inboxId?: string
  ms: number
}

export type Summary = {
  sent: number
  accepted: number
  duplicates: number
  rejected: Record<string, number>
  network_errors: number
  latency_ms: { p50: number; p90: number; p99: number; max: number }
  seconds: number
  per_second: number
}

export type SendOptions = {
  /** Deliveries in flight at once; 1 sends strictly in iteration order, each after the previous answer. */
  concurrency: number
  /** At most this many request starts per second (spaced evenly); unlimited when absent. */
  ratePerSecond?: number
  onResult?: (r: DeliveryResult) => void
  /** Retries of a 429, a 503 or a network error, with the same webhook-id (default 0). */
  retries?: number
}

type Attempt = DeliveryResult & { retryAfterMs?: number }

const DEFAULT_RETRY_MS = 1000
const MAX_RETRY_MS = 5 * 60_000

/**
 * Signs (Standard Webhooks, via the npm `standardwebhooks` library) and posts every delivery to
 * `${url}/v1/webhooks/${sourceId}`. Deliveries start in iteration order with at most
 * `concurrency` in flight; `results[i]` is the outcome of the i-th delivery.
 */
export async function sendAll(
  target: SimTarget,
  deliveries: Iterable<Delivery> | AsyncIterable<Delivery>,
  opts: SendOptions,
): Promise<{ summary: Summary; results: DeliveryResult[] }> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency))
  const retries = Math.max(0, Math.floor(opts.retries ?? 0))
  const signer = new Webhook(target.secret)
  const endpoint = `${target.url.replace(/\/+$/, '')}/v1/webhooks/${encodeURIComponent(target.sourceId)}`
  const agent = new Agent({
    connections: concurrency,
    keepAliveTimeout: 10_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  })
  const pace = pacer(opts.ratePerSecond)
  const take = orderedTake(deliveries, pace)
  const results: DeliveryResult[] = []

  const attempt = async (d: Delivery): Promise<Attempt> => {
    // Signed per attempt: a retry carries the same id and a fresh timestamp, as a real BSS sends it.
    const at = new Date()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'tiersync-sim',
      'webhook-id': d.webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signer.sign(d.webhookId, at, d.body),
    }
    const base = { webhookId: d.webhookId, ...(d.label === undefined ? {} : { label: d.label }) }
    const started = performance.now()
    try {
      const res = await request(endpoint, { method: 'POST', headers, body: d.body, dispatcher: agent })
      const text = await res.body.text()
      const ms = performance.now() - started
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'])
      return {
        ...base,
        ...readAnswer(res.statusCode, text),
        ms,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }
    } catch (err) {
      return { ...base, status: 0, code: networkCode(err), ms: performance.now() - started }
    }
  }

  const worker = async () => {
    for (let next = await take(); next; next = await take()) {
      let r = await attempt(next.delivery)
      for (let n = 0; n < retries && isRetryable(r.status); n++) {
        await sleep(r.retryAfterMs ?? DEFAULT_RETRY_MS)
        await pace()
        r = await attempt(next.delivery)
      }
      const { retryAfterMs: _, ...result } = r
      results[next.index] = result
      opts.onResult?.(result)
    }
  }

  const started = performance.now()
  try {
    const outcomes = await Promise.allSettled(Array.from({ length: concurrency }, worker))
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed) throw failed.reason
  } finally {
    await agent.close()
  }
  return { summary: summarize(results, (performance.now() - started) / 1000), results }
}

/**
 * Hands out deliveries one at a time, in iteration order: takes are chained, so the i-th caller
 * gets the i-th delivery and its rate slot before the next caller gets anything.
 */
function orderedTake(
  deliveries: Iterable<Delivery> | AsyncIterable<Delivery>,
  pace: () => Promise<void>,
): () => Promise<{ index: number; delivery: Delivery } | undefined> {
  const iterator =
    Symbol.asyncIterator in deliveries ? deliveries[Symbol.asyncIterator]() : deliveries[Symbol.iterator]()
  let index = 0
  let done = false
  let chain: Promise<unknown> = Promise.resolve()
  return () => {
    const turn = chain.then(async () => {
      if (done) return undefined
      try {
        const next = await iterator.next()
        if (next.done) {
          done = true
          return undefined
        }
        await pace()
        return { index: index++, delivery: next.value }
      } catch (err) {
        done = true
        throw err
      }
    })
    chain = turn.catch(() => undefined)
    return turn
  }
}

/** Spaced starts: each start reserves the next slot `1000 / rate` ms after the previous one. */
function pacer(ratePerSecond: number | undefined): () => Promise<void> {
  if (!ratePerSecond || ratePerSecond <= 0) return async () => {}
  const gap = 1000 / ratePerSecond
  let nextSlot = performance.now()
  return async () => {
    const now = performance.now()
    const slot = Math.max(now, nextSlot)
    nextSlot = slot + gap
    // A timer may fire up to a millisecond before its time as performance.now() counts it (the
    // event loop's clock is whole milliseconds): wait again rather than start early.
    for (let left = slot - now; left > 0; left = slot - performance.now()) await sleep(left)
  }
}

function readAnswer(status: number, text: string): { status: number; code: string; inboxId?: string } {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const obj = isRecord(body) ? body : {}
  const id = typeof obj.id === 'string' || typeof obj.id === 'number' ? String(obj.id) : undefined
  if (status >= 200 && status < 300) {
    const code = obj.status === 'duplicate' ? 'duplicate' : 'accepted'
    return { status, code, ...(id === undefined ? {} : { inboxId: id }) }
  }
  const error = isRecord(obj.error) ? obj.error : {}
  return { status, code: typeof error.code === 'string' ? error.code : `http_${status}` }
}

function isRetryable(status: number): boolean {
  return status === 0 || status === 429 || status === 503
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (!value) return undefined
  const seconds = Number(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now()
  if (!Number.isFinite(ms)) return undefined
  return Math.min(Math.max(0, ms), MAX_RETRY_MS)
}

function networkCode(err: unknown): string {
  for (let e: unknown = err; isRecord(e); e = e.cause) {
    if (typeof e.code === 'string') return e.code
  }
  return 'network_error'
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}

function summarize(results: DeliveryResult[], seconds: number): Summary {
  const summary: Summary = {
    sent: results.length,
    accepted: 0,
    duplicates: 0,
    rejected: {},
    network_errors: 0,
    latency_ms: { p50: 0, p90: 0, p99: 0, max: 0 },
    seconds: round(seconds, 3),
    per_second: seconds > 0 ? round(results.length / seconds, 1) : 0,
  }
  const answered: number[] = []
  for (const r of results) {
    if (r.status === 0) {
      summary.network_errors++
      continue
    }
    answered.push(r.ms)
    if (r.status >= 200 && r.status < 300) {
      if (r.code === 'duplicate') summary.duplicates++
      else summary.accepted++
    } else {
      const code = r.code ?? `http_${r.status}`
      summary.rejected[code] = (summary.rejected[code] ?? 0) + 1
    }
  }
  answered.sort((a, b) => a - b)
  summary.latency_ms = {
    p50: percentile(answered, 0.5),
    p90: percentile(answered, 0.9),
    p99: percentile(answered, 0.99),
    max: round(answered.at(-1) ?? 0, 1),
  }
  return summary
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return round(sorted[rank] ?? 0, 1)
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
