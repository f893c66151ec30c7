import { z } from '@hono/zod-openapi'
import { finishPage, KEY_PATTERN, type Keyset, type Sort } from '../db/keyset.js'
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

/** The `sort` query parameter of a list: each column ascending, or descending with `-`. */
export function sortParam<C extends string>(columns: readonly [C, ...C[]]) {
  const values = columns.flatMap((c) => [c, `-${c}` as const]) as [Sort<C>, ...Sort<C>[]]
  return z
    .enum(values)
    .optional()
    .openapi({ description: `Sort: ${values.join(', ')} (default: by id, stable)` })
}

/** The id cursor of an unsorted list, or the keyset of a sorted one: one decoder for both. */
export function decodePageCursor(cursor: string | undefined, sort: string | undefined): Keyset | undefined {
  return decodeCursor(cursor, sort ?? 'id')
}

/** Rows fetched with `limit + 1` and a `sort_key` column: the list body. */
export function listPage<T extends { id: string; sort_key: string | null }>(
  rows: T[],
  limit: number,
  sort: string | undefined,
): { data: Omit<T, 'sort_key'>[]; next_cursor?: string } {
  return sortedPage(sort ?? 'id', finishPage(rows, limit))
}
