import { z } from 'zod'
import type { Sql } from '../db/client.js'
import { finishPage, type Keyset, keysetAfter, keysetOrder, sortKey } from '../db/keyset.js'

/** A person at an account, kept by the distributor; the reseller BSS never sees or syncs these. */
export type Contact = {
  id: string
  account_id: string
  name: string
  email: string | null
  phone: string | null
  role: string | null
  notes: string | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = [
  'id',
  'account_id',
  'name',
  'email',
  'phone',
  'role',
  'notes',
  'created_at',
  'updated_at',
] as const

const Fields = {
  name: z.string().trim().min(1).max(200).describe('Full name'),
  email: z.email().max(320).nullable().describe('Email address'),
  phone: z
    .string()
    .trim()
    .min(3)
    .max(50)
    .regex(/^\+?[0-9][0-9 ()./-]*$/, 'digits, spaces and + ( ) . / - only')
    .nullable()
    .describe('Phone number, preferably E.164 (+302101234567)'),
  role: z.string().trim().min(1).max(100).nullable().describe('Role at the account, e.g. billing, technical'),
  notes: z.string().max(10_000).nullable().describe('Free-text notes'),
}

export const NewContact = z
  .object({
    name: Fields.name,
    email: Fields.email.optional(),
    phone: Fields.phone.optional(),
    role: Fields.role.optional(),
    notes: Fields.notes.optional(),
  })
  .strict()
  .describe('A contact to add to an account')
export type NewContact = z.infer<typeof NewContact>

export const ContactPatch = z
  .object(Fields)
  .partial()
  .strict()
  .describe('Fields to change; null clears an optional field')
export type ContactPatch = z.infer<typeof ContactPatch>

export const ContactSort = z
  .enum(['created_at', '-created_at'])
  .default('-created_at')
  .describe('Order by creation time, ascending or (-) descending')
export type ContactSort = z.infer<typeof ContactSort>

export async function accountExists(sql: Sql, id: string): Promise<boolean> {
  const [row]: [{ exists: boolean }?] =
    await sql`select exists(select 1 from accounts where id = ${id}) as exists`
  return row?.exists === true
}

/** One page of an account's contacts; `undefined` when the account does not exist. */
export async function listContacts(
  sql: Sql,
  accountId: string,
  q: { sort: ContactSort; limit: number; after?: Keyset | undefined },
): Promise<{ rows: Contact[]; next?: Keyset } | undefined> {
  if (!(await accountExists(sql, accountId))) return undefined
  const rows = await sql<(Contact & { sort_key: string | null })[]>`
    select ${sql(COLUMNS)}, ${sortKey(sql, q.sort)} from contacts
    where account_id = ${accountId} ${keysetAfter(sql, q.sort, q.after)}
    order by ${keysetOrder(sql, q.sort)}
    limit ${q.limit + 1}`
  return finishPage(rows, q.limit)
}

export async function getContact(sql: Sql, id: string): Promise<Contact | undefined> {
  const [row]: [Contact?] = await sql`select ${sql(COLUMNS)} from contacts where id = ${id}`
  return row
}

/** `undefined` when the account does not exist. */
export async function createContact(
  sql: Sql,
  accountId: string,
  c: NewContact,
): Promise<Contact | undefined> {
  const [row]: [Contact?] = await sql`
    insert into contacts (account_id, name, email, phone, role, notes)
    select id, ${c.name}, ${c.email ?? null}, ${c.phone ?? null}, ${c.role ?? null}, ${c.notes ?? null}
    from accounts where id = ${accountId}
    returning ${sql(COLUMNS)}`
  return row
}

export async function patchContact(sql: Sql, id: string, patch: ContactPatch): Promise<Contact | undefined> {
  const keep = (column: string, value: string | null | undefined) =>
    value === undefined ? sql`${sql(column)}` : sql`${value}`
  const [row]: [Contact?] = await sql`
    update contacts set
      name = ${keep('name', patch.name)},
      email = ${keep('email', patch.email)},
      phone = ${keep('phone', patch.phone)},
      role = ${keep('role', patch.role)},
      notes = ${keep('notes', patch.notes)},
      updated_at = now()
    where id = ${id}
    returning ${sql(COLUMNS)}`
  return row
}

export async function deleteContact(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`delete from contacts where id = ${id} returning id`
  return rows.length > 0
}
