import { createRoute, z } from '@hono/zod-openapi'
import {
  ACCOUNT_SORTS,
  accountTree,
  getAccount,
  listAccounts,
  patchAccount,
  SYNCED_FIELDS,
  type TreeNode,
} from '../accounts/accounts.js'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import { historyOf } from '../subscriptions/subscriptions.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'
import { PageQuery } from './pagination.js'
import { decodePageCursor, listPage, sortParam } from './sort-cursor.js'

const Account = z
  .object({
    id: z.uuid(),
    type: z.enum(['tenant_reseller', 'reseller', 'customer']),
    tenant_id: z.uuid().nullable(),
    parent_id: z.uuid().nullable(),
    source_id: z.uuid().nullable(),
    external_id: z.string().nullable(),
    name: z.string(),
    number: z.string().nullable(),
    email: z.string().nullable(),
    billing_address: z.record(z.string(), z.unknown()).nullable(),
    tier: z.string().nullable(),
    currency: z.string().nullable(),
    status: z.enum(['active', 'closed']),
    notes: z.string().nullable(),
    tags: z.array(z.string()),
    custom_attributes: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Account')

export const HistoryEntry = z
  .object({
    inbox_id: z.string().nullable(),
    event_type: z.string(),
    sequence: z.string().nullable(),
    occurred_at: z.string(),
    effective_date: z.string(),
    changes: z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() })),
  })
  .openapi('HistoryEntry')

// Recursive: named, so the OpenAPI document refers to itself instead of expanding forever.
const TreeNodeSchema: z.ZodType<TreeNode> = z
  .lazy(() =>
    z.object({
      id: z.string(),
      name: z.string(),
      type: z.enum(['tenant_reseller', 'reseller', 'customer']),
      external_id: z.string().nullable(),
      status: z.enum(['active', 'closed']),
      subscriptions: z.number(),
      children: z.array(TreeNodeSchema),
    }),
  )
  .openapi('AccountTreeNode')

const Patch = z
  .object({
    notes: z.string().max(10_000).nullable().optional(),
    tags: z.array(z.string().min(1).max(100)).max(100).optional(),
    custom_attributes: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .openapi('AccountPatch')

export function accountsRoutes(sql: Sql) {
  const app = router()
  app.use('*', byMethod(sql, 'admin'))

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Accounts'],
      summary: 'Search accounts (name, number, email or external id with q)',
      request: {
        query: z.object({
          source_id: z.uuid().optional(),
          external_id: z.string().optional(),
          type: z.enum(['tenant_reseller', 'reseller', 'customer']).optional(),
          parent_id: z.uuid().optional(),
          q: z.string().max(200).optional(),
          ...PageQuery,
          sort: sortParam(ACCOUNT_SORTS),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(Account), next_cursor: z.string().optional() }), 'accounts'),
        ...errors(400, 401),
      },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid('query')
      const { sort, ...rest } = filter
      const rows = await listAccounts(sql, rest, limit, { sort, after: decodePageCursor(cursor, sort) })
      return c.json(listPage(rows, limit, sort), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Accounts'],
      summary: 'One account with its change history',
      request: { params: IdParam },
      responses: {
        200: json(z.object({ data: Account.extend({ history: z.array(HistoryEntry) }) }), 'the account'),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const account = await found(getAccount(sql, id))
      return c.json({ data: { ...account, history: await historyOf(sql, 'account', id) } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/tree',
      tags: ['Accounts'],
      summary: 'The hierarchy under an account (tenant reseller > sub-resellers > end customers)',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: TreeNodeSchema }), 'the tree'), ...errors(400, 401, 404) },
    }),
    async (c) => c.json({ data: await found(accountTree(sql, c.req.valid('param').id)) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Accounts'],
      summary: 'Change distributor-owned fields (notes, tags, custom attributes); synced fields answer 409',
      request: {
        params: IdParam,
        body: jsonBody(z.record(z.string(), z.unknown()).openapi({ description: 'AccountPatch' })),
      },
      responses: { 200: json(z.object({ data: Account }), 'updated'), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const locked = Object.keys(body).filter((k) => (SYNCED_FIELDS as readonly string[]).includes(k))
      if (locked.length > 0) {
        throw new AppError('field_locked', {
          message: `synced from the reseller BSS and read-only: ${locked.join(', ')}`,
          details: { fields: locked },
        })
      }
      const parsed = Patch.safeParse(body)
      if (!parsed.success) {
        throw new AppError('bad_request', {
          message: 'request validation failed',
          details: parsed.error.issues.map((i) => ({
            path: i.path.join('.') || (i as { keys?: string[] }).keys?.join(',') || '(root)',
            message: i.message,
          })),
        })
      }
      return c.json({ data: await found(patchAccount(sql, c.req.valid('param').id, parsed.data)) }, 200)
    },
  )
  return app
}

async function found<T>(p: Promise<T | undefined>): Promise<T> {
  const v = await p
  if (v === undefined) throw new AppError('not_found', { message: 'no such account' })
  return v
}
