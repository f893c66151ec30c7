import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Every error code the API can answer with. Stable identifiers: clients switch on them. */
export const ErrorCode = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'source_not_found',
  'signature_headers_missing',
  'signature_invalid',
  'timestamp_out_of_tolerance',
  'payload_too_large',
  'invalid_json',
  'unsupported_media_type',
  'invalid_event',
  'rate_limited',
  'conflict',
  'field_locked',
  'invoice_not_draft',
  'invoice_not_finalized',
  'credit_exceeds_line',
  'invalid_settings',
  'storage_unavailable',
  'queue_unavailable',
  'internal_error',
] as const
export type ErrorCode = (typeof ErrorCode)[number]

export function codeToStatus(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'bad_request':
    case 'signature_headers_missing':
    case 'invalid_json':
      return 400
    case 'unauthorized':
    case 'signature_invalid':
    case 'timestamp_out_of_tolerance':
      return 401
    case 'forbidden':
      return 403
    case 'not_found':
    case 'source_not_found':
      return 404
    case 'method_not_allowed':
      return 405
    case 'conflict':
    case 'field_locked':
    case 'invoice_not_draft':
    case 'invoice_not_finalized':
      return 409
    case 'payload_too_large':
      return 413
    case 'unsupported_media_type':
      return 415
    case 'invalid_event':
    case 'credit_exceeds_line':
    case 'invalid_settings':
      return 422
    case 'rate_limited':
      return 429
    case 'internal_error':
      return 500
    case 'storage_unavailable':
    case 'queue_unavailable':
      return 503
  }
}

export type AppErrorOptions = {
  message?: string
  details?: unknown
  /** Seconds, sent as `Retry-After` (429 and 503). */
  retryAfter?: number
  cause?: unknown
}

/** The one error type routes throw; `app.onError` turns it into the contract's error body. */
export class AppError extends HTTPException {
  readonly code: ErrorCode
  readonly details: unknown
  readonly retryAfter: number | undefined

  constructor(code: ErrorCode, opts: AppErrorOptions = {}) {
    super(codeToStatus(code), { message: opts.message ?? defaultMessage(code), cause: opts.cause })
    this.code = code
    this.details = opts.details
    this.retryAfter = opts.retryAfter
  }
}

function defaultMessage(code: ErrorCode): string {
  return code.replaceAll('_', ' ')
}

/** The client went away before its request body ended: nobody is left to answer. */
export class RequestAborted extends Error {
  constructor() {
    super('the request was aborted before its body ended')
    this.name = 'RequestAborted'
  }
}

const PG_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '53100', // disk_full
  '25006', // read_only_sql_transaction (a replica after failover)
  '57014', // query_canceled (statement timeout)
])

/** True when an error means "Postgres cannot be reached now", as opposed to a bug or bad data. */
export function isStorageUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && PG_UNAVAILABLE.has(code)) return true
  if (err instanceof AggregateError) return err.errors.some(isStorageUnavailable)
  return err.cause !== undefined && err.cause !== err && isStorageUnavailable(err.cause)
}
