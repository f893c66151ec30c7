import { z } from '@hono/zod-openapi'
import { KEY_PATTERN, type Keyset } from '../db/keyset.js'
import { AppError } from '../errors.js'

/**
 * Keyset pagination under a chosen sort. The opaque cursor records the sort it was issued for:
 * the position (value, id) means nothing under another order, so using it there is a 400.
 */
const Cursor = z.object({
  sort: z.string().max(50),
  key: z.string().regex(KEY_PATTERN).nullable(),
  id: z.uuid(),
})

export function encodeCursor(sort: string, at: Keyset): string {
  return Buffer.from(JSON.stringify({ sort, key: at.key, id: at.id })).toString('base64url')
}

export function decodeCursor(cursor: string | undefined, sort: string): Keyset | undefined {
  if (!cursor) return undefined
  let parsed: z.infer<typeof Cursor>
  try {
    parsed = Cursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
  } catch {
    throw new AppError('bad_request', {
      message: 'invalid cursor',
      details: [{ path: 'cursor', message: 'invalid' }],
    })
  }
  if (parsed.sort !== sort) {
    throw new AppError('bad_request', {
      message: `this cursor pages through sort=${parsed.sort}, not sort=${sort}`,
      details: [{ path: 'cursor', message: `issued for sort=${parsed.sort}` }],
    })
  }
  return { key: parsed.key, id: parsed.id }
}

/** The list body: `{ data, next_cursor? }`. */
export function sortedPage<T>(
  sort: string,
  page: { rows: T[]; next?: Keyset },
): { data: T[]; next_cursor?: string } {
  return page.next ? { data: page.rows, next_cursor: encodeCursor(sort, page.next) } : { data: page.rows }
}
