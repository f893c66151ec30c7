import { createRoute, z } from '@hono/zod-openapi'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import {
  createSource,
  getSource,
  listSources,
  NewSource,
  rotateSecret,
  type Source,
  setEnabled,
} from '../sources/sources.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'

const SourceView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    format: z.string(),
    verification: z.string(),
    account_id: z.uuid(),
    enabled: z.boolean(),
    rate_limit_per_minute: z.number().int().nullable(),
    webhook_url: z.url(),
    secrets: z.array(z.object({ id: z.uuid(), created_at: z.string(), expires_at: z.string().nullable() })),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Source')

const WithSecret = SourceView.extend({
  secret: z.string().openapi({ description: 'Standard Webhooks secret (whsec_...); shown only here' }),
})

const Rotate = z
  .object({
    grace_hours: z
      .number()
      .min(0)
      .max(24 * 30)
      .optional(),
  })
  .openapi('RotateSecret')

export function sourcesRoutes(deps: Deps) {
  const { sql, config } = deps
  const app = router()
  app.use('*', byMethod(sql, 'admin'))
  const view = (s: Source) => ({
    ...s,
    webhook_url: `${config.PUBLIC_URL.replace(/\/$/, '')}/v1/webhooks/${s.id}`,
    secrets: s.secrets.map((k) => ({
      id: k.id,
      created_at: iso(k.created_at),
      expires_at: k.expires_at && iso(k.expires_at),
    })),
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  })

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Sources'],
      summary: 'Register a reseller BSS and its tenant reseller account',
      request: { body: jsonBody(NewSource.openapi('NewSource')) },
      responses: { 201: json(WithSecret, 'created'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { source, secret } = await createSource(deps, c.req.valid('json'))
      return c.json({ ...view(source), secret }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Sources'],
      summary: 'List sources (never their secrets)',
      responses: { 200: json(z.object({ data: z.array(SourceView) }), 'the sources'), ...errors(401, 403) },
    }),
    async (c) => c.json({ data: (await listSources(sql)).map(view) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Sources'],
      summary: 'One source',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: SourceView }), 'the source'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json({ data: view(await found(getSource(sql, c.req.valid('param').id))) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/secrets/rotate',
      tags: ['Sources'],
      summary: 'Issue a new secret; the previous ones keep verifying for the grace period (default 24 h)',
      request: {
        params: IdParam,
        body: { required: false, content: { 'application/json': { schema: Rotate } } },
      },
      responses: { 200: json(WithSecret, 'rotated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const hours = c.req.valid('json')?.grace_hours ?? config.SECRET_GRACE_HOURS
      const rotated = await found(rotateSecret(deps, c.req.valid('param').id, hours * 3600))
      return c.json({ ...view(rotated.source), secret: rotated.secret }, 200)
    },
  )

  for (const [action, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{id}/${action}`,
        tags: ['Sources'],
        summary: enabled
          ? 'Accept webhooks from this source again'
          : 'Refuse webhooks from this source (404)',
        request: { params: IdParam },
        responses: { 200: json(z.object({ data: SourceView }), 'the source'), ...errors(400, 401, 403, 404) },
      }),
      async (c) =>
        c.json({ data: view(await found(setEnabled(sql, c.req.valid('param').id, enabled))) }, 200),
    )
  }
  return app
}

async function found<T>(p: Promise<T | undefined>): Promise<T> {
  const v = await p
  if (v === undefined) throw new AppError('not_found', { message: 'no such source' })
  return v
}

function iso(d: Date | string): string {
  return typeof d === 'string' ? new Date(d).toISOString() : d.toISOString()
}
