import { createRoute, z } from '@hono/zod-openapi'
import {
  ContactPatch,
  ContactSort,
  createContact,
  deleteContact,
  getContact,
  listContacts,
  NewContact,
  patchContact,
} from '../accounts/contacts.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'
import { PageQuery } from './pagination.js'
import { decodeCursor, sortedPage } from './sort-cursor.js'

const Contact = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    role: z.string().nullable(),
    notes: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Contact')

const noSuchContact = () => new AppError('not_found', { message: 'no such contact' })
const noSuchAccount = () => new AppError('not_found', { message: 'no such account' })

/**
 * Contacts the distributor keeps on any account. Mounted at `/v1`: it serves both
 * `/accounts/{id}/contacts` and `/contacts/{id}`, so auth is scoped to those paths, never `*`
 * (under `/v1` that would also guard every other resource and unknown routes).
 */
export function contactsRoutes({ sql }: Pick<Deps, 'sql'>) {
  const app = router()
  const auth = byMethod(sql, 'admin')
  app.use('/accounts/:id/contacts', auth)
  app.use('/contacts/:id', auth)

  app.openapi(
    createRoute({
      method: 'get',
      path: '/accounts/{id}/contacts',
      tags: ['Contacts'],
      summary: "An account's contacts",
      request: { params: IdParam, query: z.object({ sort: ContactSort, ...PageQuery }) },
      responses: {
        200: json(z.object({ data: z.array(Contact), next_cursor: z.string().optional() }), 'contacts'),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const { sort, limit, cursor } = c.req.valid('query')
      const after = decodeCursor(cursor, sort)
      const page = await listContacts(sql, c.req.valid('param').id, { sort, limit, after })
      if (!page) throw noSuchAccount()
      return c.json(sortedPage(sort, page), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/accounts/{id}/contacts',
      tags: ['Contacts'],
      summary: 'Add a contact to an account',
      request: { params: IdParam, body: jsonBody(NewContact) },
      responses: {
        201: json(z.object({ data: Contact }), 'created'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const contact = await createContact(sql, c.req.valid('param').id, c.req.valid('json'))
      if (!contact) throw noSuchAccount()
      return c.json({ data: contact }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/contacts/{id}',
      tags: ['Contacts'],
      summary: 'One contact',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: Contact }), 'the contact'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const contact = await getContact(sql, c.req.valid('param').id)
      if (!contact) throw noSuchContact()
      return c.json({ data: contact }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/contacts/{id}',
      tags: ['Contacts'],
      summary: 'Change a contact (null clears an optional field)',
      request: { params: IdParam, body: jsonBody(ContactPatch) },
      responses: { 200: json(z.object({ data: Contact }), 'updated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const contact = await patchContact(sql, c.req.valid('param').id, c.req.valid('json'))
      if (!contact) throw noSuchContact()
      return c.json({ data: contact }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/contacts/{id}',
      tags: ['Contacts'],
      summary: 'Delete a contact',
      request: { params: IdParam },
      responses: { 204: { description: 'deleted' }, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      if (!(await deleteContact(sql, c.req.valid('param').id))) throw noSuchContact()
      return c.body(null, 204)
    },
  )
  return app
}
