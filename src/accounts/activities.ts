import type { Sql } from '../db/client.js'
import { finishPage, type Keyset, keysetAfter, keysetOrder, sortKey } from '../db/keyset.js'
import {
  type ActivityKind,
  type ActivityPatch,
  type ActivitySort,
  type CasePriority,
  type CaseStatus,
  type NewActivity,
  PatchByKind,
  type TaskStatus,
} from './activity-input.js'
import { accountExists } from './contacts.js'

type Common = { id: string; account_id: string; created_at: Date; updated_at: Date }
type Body = { subject: string; body: string | null }
/** An activity as the API shows it: the common fields and those of its kind. */
export type Activity = Common &
  (
    | (Body & { kind: 'email'; from: string | null; to: string[] })
    | (Body & { kind: 'task'; due_at: Date | null; status: (typeof TaskStatus)[number] })
    | (Body & { kind: 'event'; starts_at: Date; ends_at: Date })
    | { kind: 'document'; name: string; link: string; content_type: string | null }
    | (Body & { kind: 'case'; status: (typeof CaseStatus)[number]; priority: (typeof CasePriority)[number] })
  )

export type ActivityFilter = {
  kind?: ActivityKind | undefined
  status?: string | undefined
  due_before?: Date | undefined
  since?: Date | undefined
  until?: Date | undefined
}

type Row = {
  id: string
  account_id: string
  kind: ActivityKind
  subject: string | null
  body: string | null
  status: string | null
  priority: string | null
  due_at: Date | null
  starts_at: Date | null
  ends_at: Date | null
  document_name: string | null
  document_url: string | null
  content_type: string | null
  from_address: string | null
  to_addresses: string[]
  created_at: Date
  updated_at: Date
}
const COLUMNS = [
  'id',
  'account_id',
  'kind',
  'subject',
  'body',
  'status',
  'priority',
  'due_at',
  'starts_at',
  'ends_at',
  'document_name',
  'document_url',
  'content_type',
  'from_address',
  'to_addresses',
  'created_at',
  'updated_at',
] as const

/** The API shape: common fields plus the kind's own (the table's other columns are null for it). */
function present(r: Row): Activity {
  const common = { id: r.id, account_id: r.account_id, created_at: r.created_at, updated_at: r.updated_at }
  const text = { subject: r.subject ?? '', body: r.body }
  switch (r.kind) {
    case 'email':
      return { ...common, kind: r.kind, ...text, from: r.from_address, to: r.to_addresses }
    case 'task':
      return { ...common, kind: r.kind, ...text, due_at: r.due_at, status: r.status as 'open' }
    case 'event':
      return { ...common, kind: r.kind, ...text, starts_at: r.starts_at as Date, ends_at: r.ends_at as Date }
    case 'document':
      return {
        ...common,
        kind: r.kind,
        name: r.document_name ?? '',
        link: r.document_url ?? '',
        content_type: r.content_type,
      }
    case 'case':
      return {
        ...common,
        kind: r.kind,
        ...text,
        status: r.status as 'open',
        priority: r.priority as 'normal',
      }
  }
}

/** Every kind's fields at once: each variant of NewActivity and of a patch fits this. */
type AnyFields = {
  subject?: string
  body?: string | null
  from?: string | null
  to?: string[]
  due_at?: string | null
  status?: string
  starts_at?: string
  ends_at?: string
  name?: string
  link?: string
  content_type?: string | null
  priority?: string
}

/** Column values for the fields given; `undefined` means absent (unchanged on PATCH). */
function columnsOf(f: AnyFields) {
  return {
    subject: f.subject,
    body: f.body,
    status: f.status,
    priority: f.priority,
    due_at: f.due_at,
    starts_at: f.starts_at,
    ends_at: f.ends_at,
    document_name: f.name,
    document_url: f.link,
    content_type: f.content_type,
    from_address: f.from,
    to_addresses: f.to,
  }
}

type Invalid = { outcome: 'invalid'; details: { path: string; message: string }[] }

/** The database enforces the per-kind invariants too (sql/0006); a violation is the caller's 400. */
function violation(err: unknown): Invalid | undefined {
  const e = err as { code?: string; constraint_name?: string }
  if (e.code !== '23514') return undefined
  const path = e.constraint_name === 'activities_event_window' ? 'ends_at' : '(root)'
  return { outcome: 'invalid', details: [{ path, message: `violates ${e.constraint_name ?? 'a check'}` }] }
}

export async function listActivities(
  sql: Sql,
  accountId: string,
  q: ActivityFilter & { sort: ActivitySort; limit: number; after?: Keyset | undefined },
): Promise<{ rows: Activity[]; next?: Keyset } | undefined> {
  if (!(await accountExists(sql, accountId))) return undefined
  const rows = await sql<(Row & { sort_key: string | null })[]>`
    select ${sql(COLUMNS)}, ${sortKey(sql, q.sort)} from activities
    where account_id = ${accountId}
      ${q.kind ? sql`and kind = ${q.kind}` : sql``}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${q.due_before ? sql`and due_at < ${q.due_before}` : sql``}
      ${q.since ? sql`and created_at >= ${q.since}` : sql``}
      ${q.until ? sql`and created_at < ${q.until}` : sql``}
      ${keysetAfter(sql, q.sort, q.after)}
    order by ${keysetOrder(sql, q.sort)}
    limit ${q.limit + 1}`
  const page = finishPage(rows, q.limit)
  return { ...page, rows: page.rows.map(present) }
}

export async function getActivity(sql: Sql, id: string): Promise<Activity | undefined> {
  const [row]: [Row?] = await sql`select ${sql(COLUMNS)} from activities where id = ${id}`
  return row && present(row)
}

export type CreateOutcome =
  | { outcome: 'account_not_found' }
  | Invalid
  | { outcome: 'created'; activity: Activity }

export async function createActivity(
  sql: Sql,
  accountId: string,
  input: NewActivity,
): Promise<CreateOutcome> {
  const v = columnsOf(input)
  try {
    // `insert ... select from accounts`: an unknown account inserts nothing.
    const [row]: [Row?] = await sql`
      insert into activities (
        account_id, kind, subject, body, status, priority, due_at, starts_at, ends_at,
        document_name, document_url, content_type, from_address, to_addresses
      )
      select id, ${input.kind}, ${v.subject ?? null}, ${v.body ?? null}, ${v.status ?? null},
        ${v.priority ?? null}, ${v.due_at ?? null}::timestamptz,
        ${v.starts_at ?? null}::timestamptz, ${v.ends_at ?? null}::timestamptz,
        ${v.document_name ?? null}, ${v.document_url ?? null}, ${v.content_type ?? null},
        ${v.from_address ?? null}, ${sql.array(v.to_addresses ?? [])}::text[]
      from accounts where id = ${accountId}
      returning ${sql(COLUMNS)}`
    return row ? { outcome: 'created', activity: present(row) } : { outcome: 'account_not_found' }
  } catch (err) {
    const invalid = violation(err)
    if (invalid) return invalid
    throw err
  }
}

export type PatchOutcome =
  | { outcome: 'not_found' }
  | { outcome: 'kind_immutable'; kind: ActivityKind }
  | Invalid
  | { outcome: 'updated'; activity: Activity }

/** Changes fields of the activity's own kind: a field of another kind is `invalid`, naming it. */
export async function patchActivity(sql: Sql, id: string, body: ActivityPatch): Promise<PatchOutcome> {
  const [current]: [{ kind: ActivityKind }?] = await sql`select kind from activities where id = ${id}`
  if (!current) return { outcome: 'not_found' }
  if (body.kind !== undefined && body.kind !== current.kind) {
    return { outcome: 'kind_immutable', kind: current.kind }
  }
  const parsed = PatchByKind[current.kind].safeParse(body)
  if (!parsed.success) {
    return {
      outcome: 'invalid',
      details: parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
      })),
    }
  }
  const v = columnsOf(parsed.data)
  const keep = (column: string, value: string | null | undefined) =>
    value === undefined ? sql`${sql(column)}` : sql`${value}`
  try {
    // Kind in the where clause too: the row was read outside this statement.
    const [row]: [Row?] = await sql`
      update activities set
        subject = ${keep('subject', v.subject)},
        body = ${keep('body', v.body)},
        status = ${keep('status', v.status)},
        priority = ${keep('priority', v.priority)},
        due_at = ${keep('due_at', v.due_at)}::timestamptz,
        starts_at = ${keep('starts_at', v.starts_at)}::timestamptz,
        ends_at = ${keep('ends_at', v.ends_at)}::timestamptz,
        document_name = ${keep('document_name', v.document_name)},
        document_url = ${keep('document_url', v.document_url)},
        content_type = ${keep('content_type', v.content_type)},
        from_address = ${keep('from_address', v.from_address)},
        to_addresses = ${v.to_addresses === undefined ? sql`to_addresses` : sql`${sql.array(v.to_addresses)}::text[]`},
        updated_at = now()
      where id = ${id} and kind = ${current.kind}
      returning ${sql(COLUMNS)}`
    return row ? { outcome: 'updated', activity: present(row) } : { outcome: 'not_found' }
  } catch (err) {
    const invalid = violation(err)
    if (invalid) return invalid
    throw err
  }
}

export async function deleteActivity(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`delete from activities where id = ${id} returning id`
  return rows.length > 0
}
