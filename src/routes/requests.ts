import { randomUUID } from 'node:crypto'
import type { Deps } from '../deps.js'

export type AnsweredRequest = {
  /** The route pattern, not the path: one metric series per route, whatever the ids in the URL. */
  route: string
  method: string
  path: string
  status: number
  ms: number
  requestId: string | null
}

/** Every answered request: one sample of the HTTP metric and one access log line. */
export function recordRequest(deps: Pick<Deps, 'metrics' | 'log'>, r: AnsweredRequest): void {
  deps.metrics.http.observe({ route: r.route, method: r.method, status: String(r.status) }, r.ms / 1000)
  deps.log.info(
    { request_id: r.requestId, method: r.method, path: r.path, status: r.status, ms: r.ms },
    'request',
  )
}

const REQUEST_ID = /^[\w\-=]{1,255}$/

/**
 * The caller's `x-request-id` when it is a plain token of at most 255 characters, else a new one:
 * the rule of Hono's requestId middleware, which the app uses, so both paths agree.
 */
export function requestIdFrom(header: string | undefined): string {
  return header !== undefined && REQUEST_ID.test(header) ? header : randomUUID()
}
