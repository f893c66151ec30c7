import { createRoute, z } from '@hono/zod-openapi'
import {
  addOverride,
  addPrice,
  getSettings,
  listOverrides,
  listPrices,
  listTiers,
  NewOverride,
  NewPrice,
  ResellerBilling,
  SettingsInput,
  setResellerBilling,
  TierInput,
  updateSettings,
  upsertTier,
} from '../billing/price-book.js'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'

const Price = z
  .object({
    id: z.uuid(),
    sku: z.string(),
    billing_cycle: z.string(),
    term: z.string().nullable(),
    currency: z.string(),
    unit_price: z.string(),
    effective_from: z.string(),
    tenant_id: z.uuid().optional(),
  })
  .openapi('Price')
const Tier = z.object({ name: z.string(), discount: z.string() }).openapi('ResellerTier')
const Settings = z
  .object({
    rounding_stage: z.enum(['line', 'unit']),
    rounding_mode: z.enum(['half_up', 'half_even', 'down']),
    lookback_months: z.number(),
  })
  .openapi('BillingSettings')

/** The price book: list prices, per-reseller overrides, tiers, rounding, reseller tax rates. */
export function priceBookRoutes(sql: Sql) {
  const app = router()
  app.use('*', byMethod(sql, 'billing'))
  const tag = ['Price book']

  app.openapi(
    createRoute({
      method: 'get',
      path: '/prices',
      tags: tag,
      summary: 'List prices',
      request: { query: z.object({ sku: z.string().optional() }) },
      responses: { 200: json(z.object({ data: z.array(Price) }), 'prices'), ...errors(400, 401) },
    }),
    async (c) => c.json({ data: await listPrices(sql, c.req.valid('query').sku) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/prices',
      tags: tag,
      summary: 'Add a price per (sku, billing cycle, term, currency) from a date',
      request: { body: jsonBody(NewPrice) },
      responses: { 201: json(z.object({ data: Price }), 'added'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json({ data: await addPrice(sql, c.req.valid('json')) }, 201),
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/overrides',
      tags: tag,
      summary: 'List per-reseller price overrides',
      request: { query: z.object({ tenant_id: z.uuid().optional() }) },
      responses: { 200: json(z.object({ data: z.array(Price) }), 'overrides'), ...errors(400, 401) },
    }),
    async (c) => c.json({ data: await listOverrides(sql, c.req.valid('query').tenant_id) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/overrides',
      tags: tag,
      summary: 'Set a reseller-specific price (replaces list price and tier discount)',
      request: { body: jsonBody(NewOverride) },
      responses: { 201: json(z.object({ data: Price }), 'added'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json({ data: await addOverride(sql, c.req.valid('json')) }, 201),
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/tiers',
      tags: tag,
      summary: 'Reseller tiers and their discounts',
      responses: { 200: json(z.object({ data: z.array(Tier) }), 'tiers'), ...errors(401) },
    }),
    async (c) => c.json({ data: await listTiers(sql) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'put',
      path: '/tiers',
      tags: tag,
      summary: 'Create or change a tier discount (a fraction, "0.05" = 5%)',
      request: { body: jsonBody(TierInput) },
      responses: { 200: json(z.object({ data: Tier }), 'saved'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json({ data: await upsertTier(sql, c.req.valid('json')) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/settings',
      tags: tag,
      summary: 'Rounding stage and mode, lookback',
      responses: { 200: json(z.object({ data: Settings }), 'settings'), ...errors(401) },
    }),
    async (c) => c.json({ data: await getSettings(sql) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'patch',
      path: '/settings',
      tags: tag,
      summary: 'Change rounding stage and mode, or the lookback',
      request: { body: jsonBody(SettingsInput) },
      responses: { 200: json(z.object({ data: Settings }), 'saved'), ...errors(400, 401, 403) },
    }),
    async (c) => c.json({ data: await updateSettings(sql, c.req.valid('json')) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'patch',
      path: '/resellers/{id}',
      tags: tag,
      summary: "A tenant reseller's tier and tax rate",
      request: { params: IdParam, body: jsonBody(ResellerBilling) },
      responses: {
        200: json(
          z.object({
            data: z.object({
              id: z.uuid(),
              name: z.string(),
              tier: z.string().nullable(),
              tax_rate: z.string(),
              currency: z.string().nullable(),
            }),
          }),
          'saved',
        ),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const row = await setResellerBilling(sql, c.req.valid('param').id, c.req.valid('json'))
      if (!row) throw new AppError('not_found', { message: 'no such tenant reseller' })
      return c.json({ data: row }, 200)
    },
  )
  return app
}
