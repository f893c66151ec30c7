import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import postgres from 'postgres'
import type { z } from 'zod'
import { AppError, type ErrorCode, isStorageUnavailable, RequestAborted } from '../errors.js'
import type { Logger } from '../log.js'
import { issueDetails } from '../mappers/envelope.js'

/** The contract's error body: `{ error: { code, message, request_id, details? } }`. */
export function errorBody(err: AppError, requestId: string | null) {
  return {
    error: {
      code: err.code,
      message: err.message,
      request_id: requestId,
      ...(err.details === undefined ? {} : { details: err.details }),
    },
  }
}

/** The headers an error answer carries besides its body. */
export function errorHeaders(err: AppError): Record<string, string> {
  const headers: Record<string, string> = {}
  if (err.retryAfter !== undefined) headers['retry-after'] = String(err.retryAfter)
  // RFC 9110 / RFC 6750: a 401 names the scheme it wants.
  if (err.code === 'unauthorized') headers['www-authenticate'] = 'Bearer'
  return headers
}

/** The only place that builds a Hono error response (the webhook fast path writes the same). */
export function errorResponse(c: Context, err: AppError): Response {
  for (const [name, value] of Object.entries(errorHeaders(err))) c.header(name, value)
  return c.json(errorBody(err, c.get('requestId') ?? null), err.status)
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'storage_unavailable',
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  // The client's doing, not the server's (and its ECONNRESET is not Postgres's).
  if (err instanceof RequestAborted) return new AppError('bad_request', { message: err.message })
  if (err instanceof postgres.PostgresError) {
    // Class 22 (a value Postgres cannot store: NUL in text, a date out of range) and a check
    // constraint are the request's fault; a foreign key naming nothing is an unknown reference.
    if (err.code.startsWith('22') || err.code === '23514')
      return new AppError('bad_request', { message: `a value cannot be stored: ${err.message}` })
    if (err.code === '23503')
      return new AppError('not_found', { message: 'a referenced object does not exist' })
  }
  if (isStorageUnavailable(err)) {
    return new AppError('storage_unavailable', {
      message: 'storage is unavailable, retry later',
      retryAfter: 5,
    })
  }
  if (err instanceof HTTPException) {
    const code = STATUS_CODES[err.status] ?? (err.status >= 500 ? 'internal_error' : 'bad_request')
    return new AppError(code, err.status >= 500 ? {} : { message: err.message || undefined })
  }
  return new AppError('internal_error', { message: 'internal error' })
}

/** Maps any error to the contract's error, logging the server's own failures. */
export function mapError(
  log: Logger,
  err: unknown,
  request: { requestId: string | null; path: string },
): AppError {
  const appErr = toAppError(err)
  if (appErr.status >= 500)
    log.error({ err, request_id: request.requestId, path: request.path }, 'request failed')
  return appErr
}

export function onError(log: Logger) {
  return (err: Error, c: Context): Response =>
    errorResponse(c, mapError(log, err, { requestId: c.get('requestId') ?? null, path: c.req.path }))
}

/** zod-openapi's validation hook: a bad request body, query or path answers 400 with the paths. */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError }): void {
  if (!result.success) {
    throw new AppError('bad_request', {
      message: 'request validation failed',
      details: issueDetails(result.error.issues),
    })
  }
}
