import type postgres from 'postgres'
import type { Sql } from './client.js'

type Fragment = postgres.Fragment

/** A timestamp sort: `created_at` ascending, `-created_at` descending. */
export type Sort<C extends string> = C | `-${C}`

/**
 * Where a page ended: the sort column's value (null when that row had none) and the row id.
 * The value is text with microseconds: a JS Date keeps only milliseconds, and a key rounded to
 * the millisecond would skip or repeat rows created within the same millisecond.
 */
export type Keyset = { key: string | null; id: string }

export const KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

function parse<C extends string>(sort: Sort<C>): { column: string; desc: boolean } {
  return sort.startsWith('-') ? { column: sort.slice(1), desc: true } : { column: sort, desc: false }
}

/** The sort column as `sort_key` (UTC, microseconds), for the cursor of the next page. */
export function sortKey<C extends string>(sql: Sql, sort: Sort<C>): Fragment {
  return sql`to_char(${sql(parse(sort).column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as sort_key`
}

/**
 * Order on (column, id), both in the sort's direction, nulls last either way. The column must be
 * a timestamptz and the table's key a uuid named `id`.
 */
export function keysetOrder<C extends string>(sql: Sql, sort: Sort<C>): Fragment {
  const { column, desc } = parse(sort)
  return desc ? sql`${sql(column)} desc nulls last, id desc` : sql`${sql(column)} asc nulls last, id asc`
}

/** `and ...`: the rows strictly after `after` in keysetOrder; nothing when there is no cursor. */
export function keysetAfter<C extends string>(sql: Sql, sort: Sort<C>, after: Keyset | undefined): Fragment {
  if (!after) return sql``
  const { column, desc } = parse(sort)
  const col = sql(column)
  if (after.key === null) {
    // Already in the trailing nulls: only the rest of them, by id.
    return desc
      ? sql`and ${col} is null and id < ${after.id}::uuid`
      : sql`and ${col} is null and id > ${after.id}::uuid`
  }
  // Sent as text: a parameter typed timestamptz goes through the driver's Date serializer,
  // which would round the key to the millisecond.
  const key = sql`${after.key}::text::timestamptz`
  return desc
    ? sql`and ((${col}, id) < (${key}, ${after.id}::uuid) or ${col} is null)`
    : sql`and ((${col}, id) > (${key}, ${after.id}::uuid) or ${col} is null)`
}

/**
 * Rows were fetched with `limit + 1`: keep `limit`, strip `sort_key`, and say where the next
 * page starts when there is one.
 */
export function finishPage<T extends { id: string; sort_key: string | null }>(
  rows: T[],
  limit: number,
): { rows: Omit<T, 'sort_key'>[]; next?: Keyset } {
  const kept = rows.slice(0, limit)
  const last = kept[kept.length - 1]
  const stripped = kept.map(({ sort_key: _, ...row }) => row)
  return rows.length > limit && last
    ? { rows: stripped, next: { key: last.sort_key, id: last.id } }
    : { rows: stripped }
}

/**
 * How a list is paged: by id (the default: stable, cheap) or under a timestamp sort. List
 * functions take this and hand it to `pageClause`, so the two ways share one query.
 */
export type PageOrder<C extends string> = { sort?: Sort<C> | undefined; after?: Keyset | undefined }

/** `select` extra, `and ...` filter and `order by` of a page, for a table keyed by a uuid `id`. */
export function pageClause<C extends string>(sql: Sql, order: PageOrder<C>) {
  const { sort, after } = order
  if (!sort) {
    return {
      key: sql`null::text as sort_key`,
      after: after ? sql`and id > ${after.id}::uuid` : sql``,
      orderBy: sql`id`,
    }
  }
  return { key: sortKey(sql, sort), after: keysetAfter(sql, sort, after), orderBy: keysetOrder(sql, sort) }
}
