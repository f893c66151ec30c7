import { z } from '@hono/zod-openapi'
import { AppError } from '../errors.js'

/** Keyset pagination on a bigint row id (the inbox): the cursor is the last id returned, opaque to clients. */
export type Cursor = { id: string }

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
}

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    return z.object({ id: z.string().regex(/^\d{1,18}$/) }).parse(v)
  } catch {
    throw new AppError('bad_request', {
      message: 'invalid cursor',
      details: [{ path: 'cursor', message: 'invalid' }],
    })
  }
}

export function page<T extends { id: string }>(
  rows: T[],
  limit: number,
): { data: T[]; next_cursor?: string } {
  if (rows.length <= limit) return { data: rows }
  const data = rows.slice(0, limit)
  const last = data[data.length - 1] as T
  return {
    data,
    next_cursor: Buffer.from(JSON.stringify({ id: last.id } satisfies Cursor)).toString('base64url'),
  }
}
