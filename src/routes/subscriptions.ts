import { createRoute, z } from '@hono/zod-openapi'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import {
  getSubscription,
  historyOf,
  listSubscriptions,
  SUBSCRIPTION_SORTS,
} from '../subscriptions/subscriptions.js'
import { HistoryEntry } from './accounts.js'
import { requireRole } from './auth.js'
import { errors, IdParam, json, router } from './openapi.js'
import { PageQuery } from './pagination.js'
import { decodePageCursor, listPage, sortParam } from './sort-cursor.js'

const Subscription = z
  .object({
    id: z.uuid(),
    source_id: z.uuid(),
    external_id: z.string(),
    tenant_id: z.uuid(),
    account_id: z.uuid(),
    parent_subscription_id: z.uuid().nullable(),
    sku: z.string(),
    product_name: z.string().nullable(),
    status: z.enum(['pending', 'active', 'suspended', 'cancelled', 'expired', 'unknown']),
    raw_status: z.string(),
    quantity: z.number().int(),
    billing_cycle: z.string(),
    term: z.string().nullable(),
    start_date: z.string().nullable(),
    end_date: z.string().nullable(),
    activation_date: z.string().nullable(),
    auto_renew: z.boolean(),
    characteristics: z.array(z.unknown()),
    version_sequence: z.string().nullable(),
    version_occurred_at: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Subscription')

/** Read-only by design: no route creates or changes a synced subscription field. */
export function subscriptionsRoutes(sql: Sql) {
  const app = router()
  app.use('*', requireRole(sql, 'viewer'))

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Subscriptions'],
      summary: 'List subscriptions and add-ons',
      request: {
        query: z.object({
          source_id: z.uuid().optional(),
          external_id: z.string().optional(),
          account_id: z.uuid().optional(),
          tenant_id: z.uuid().optional(),
          parent_subscription_id: z.uuid().optional(),
          status: z.enum(['pending', 'active', 'suspended', 'cancelled', 'expired', 'unknown']).optional(),
          sku: z.string().optional(),
          ...PageQuery,
          sort: sortParam(SUBSCRIPTION_SORTS),
        }),
      },
      responses: {
        200: json(
          z.object({ data: z.array(Subscription), next_cursor: z.string().optional() }),
          'subscriptions',
        ),
        ...errors(400, 401),
      },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid('query')
      const { sort, ...rest } = filter
      const rows = await listSubscriptions(sql, rest, limit, { sort, after: decodePageCursor(cursor, sort) })
      return c.json(listPage(rows, limit, sort), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Subscriptions'],
      summary: 'One subscription with its change history',
      request: { params: IdParam },
      responses: {
        200: json(
          z.object({ data: Subscription.extend({ history: z.array(HistoryEntry) }) }),
          'the subscription',
        ),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const sub = await getSubscription(sql, id)
      if (!sub) throw new AppError('not_found', { message: 'no such subscription' })
      return c.json({ data: { ...sub, history: await historyOf(sql, 'subscription', id) } }, 200)
    },
  )
  return app
}
