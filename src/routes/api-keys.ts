import { createRoute, z } from '@hono/zod-openapi'
import { createApiKey, listApiKeys, Role, revokeApiKey } from '../auth/api-keys.js'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'
import { requireRole } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'

const ApiKey = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: Role,
    key_prefix: z.string(),
    created_at: z.date(),
    last_used_at: z.date().nullable(),
    revoked_at: z.date().nullable(),
  })
  .openapi('ApiKey')

const NewApiKey = z.object({ name: z.string().trim().min(1).max(200), role: Role }).openapi('NewApiKey')

export function apiKeysRoutes(sql: Sql) {
  const app = router()
  app.use('*', requireRole(sql, 'admin'))

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['API keys'],
      summary: 'Create an API key (the key is shown only in this answer)',
      request: { body: jsonBody(NewApiKey) },
      responses: {
        201: json(ApiKey.extend({ key: z.string() }), 'created'),
        ...errors(400, 401, 403),
      },
    }),
    async (c) => {
      const { apiKey, key } = await createApiKey(sql, c.req.valid('json'))
      return c.json({ ...apiKey, key }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['API keys'],
      summary: 'List API keys (never the keys themselves)',
      responses: { 200: json(z.object({ data: z.array(ApiKey) }), 'the keys'), ...errors(401, 403) },
    }),
    async (c) => c.json({ data: await listApiKeys(sql) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['API keys'],
      summary: 'Revoke an API key',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: ApiKey }), 'revoked'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const key = await revokeApiKey(sql, c.req.valid('param').id)
      if (!key) throw new AppError('not_found', { message: 'no such API key' })
      return c.json({ data: key }, 200)
    },
  )
  return app
}
